import { sealStatusView } from './common/seal-status.js';
import { defineOperation } from './context.js';

export const sealStatus = defineOperation({
  name: 'SealStatus',
  namespace: 'Keyward',
  plane: 'public',
  whileSealed: true,
  parse: () => ({}),
  run: async (ctx) => sealStatusView(ctx.services, await ctx.services.seal.status()),
});
