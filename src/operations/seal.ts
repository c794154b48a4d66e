import { sealStatusView } from './common/seal-status.js';
import { defineOperation } from './context.js';

/** Seals this node (every process of it): every key is forgotten until the next unseal; auto-unseal retries stop. */
export const seal = defineOperation({
  name: 'Seal',
  namespace: 'Keyward',
  plane: 'system',
  parse: () => ({}),
  async run(ctx) {
    await ctx.services.seal.seal('operator');
    return sealStatusView(ctx.services, await ctx.services.seal.status());
  },
});
