import { sealStatusView } from './common/seal-status.js';
import { defineOperation } from './context.js';

/**
 * Unseals this node: `passphrase` (passphrase seal), one `share` at a time (shamir; progress is
 * answered until the threshold), `reset: true` to forget the shares given, or `{}` to retry an
 * auto-unseal seal (static, pkcs11, transit).
 */
export const unseal = defineOperation({
  name: 'Unseal',
  namespace: 'Keyward',
  plane: 'public',
  whileSealed: true,
  // only a passphrase runs Argon2id; shares (unguessable, combined cheaply) and reset are not charged
  expensive: (req: { readonly passphrase?: string | Buffer }) => req.passphrase !== undefined,
  parse: (input) => {
    const passphrase = input.secret('passphrase', { min: 1, max: 1024 });
    const share = input.string('share', { min: 1, max: 128 });
    const reset = input.boolean('reset');
    return { ...(passphrase !== undefined ? { passphrase } : {}), ...(share !== undefined ? { share } : {}), ...(reset !== undefined ? { reset } : {}) };
  },
  async run(ctx, req) {
    return sealStatusView(ctx.services, await ctx.services.seal.unseal(req));
  },
});
