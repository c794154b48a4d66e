import { checkingSecret } from './common/secret-check.js';
import { sealStatusView } from './common/seal-status.js';
import { defineOperation } from './context.js';

/**
 * Unseals this node: `passphrase` (passphrase seal), one `share` at a time (shamir; progress is
 * answered until the threshold, and the first share answers the `nonce` every later share and a
 * `reset` must carry), `reset: true` to forget the shares given, or `{}` to retry an auto-unseal
 * seal (static, pkcs11, transit).
 */
export const unseal = defineOperation({
  name: 'Unseal',
  namespace: 'Keyward',
  plane: 'public',
  whileSealed: true,
  // a passphrase runs Argon2id; a share is cheap but charged too, so a ceremony cannot be flooded
  expensive: (req: { readonly passphrase?: string | Buffer; readonly share?: string | Buffer }) => req.passphrase !== undefined || req.share !== undefined,
  parse: (input) => {
    const passphrase = input.secret('passphrase', { min: 1, max: 1024 });
    const share = input.secret('share', { min: 1, max: 128 });
    const reset = input.boolean('reset');
    const nonce = input.string('nonce', { min: 1, max: 64 });
    return {
      ...(passphrase !== undefined ? { passphrase } : {}), ...(share !== undefined ? { share } : {}),
      ...(reset !== undefined ? { reset } : {}), ...(nonce !== undefined ? { nonce } : {}),
    };
  },
  async run(ctx, req) {
    const local = !ctx.meta.sourceAddress || ctx.meta.sourceAddress === 'unix-socket' || ctx.meta.transport === 'local';
    const request = { ...req, local };
    const status = req.passphrase !== undefined || req.share !== undefined
      ? await checkingSecret(ctx, 'Unseal', () => ctx.services.seal.unseal(request))
      : await ctx.services.seal.unseal(request);
    return { ...sealStatusView(ctx.services, status), ...(status.nonce !== undefined ? { nonce: status.nonce } : {}) };
  },
});
