import { sealStatusView } from './common/seal-status.js';
import { defineOperation } from './context.js';

export const unseal = defineOperation({
  name: 'Unseal',
  namespace: 'Keyward',
  plane: 'public',
  whileSealed: true,
  expensive: true,
  parse: (input) => ({ passphrase: input.requiredString('passphrase', { min: 1, max: 1024 }) }),
  async run(ctx, req) {
    return sealStatusView(ctx.services, await ctx.services.seal.unseal({ passphrase: req.passphrase }));
  },
});
