import { parseSealAuthorization, parseSealSpec, secretsView } from './common/seal-spec.js';
import { checkingSecret } from './common/secret-check.js';
import { sealStatusView } from './common/seal-status.js';
import { defineOperation } from './context.js';

/**
 * Rekey and seal migration: proves the current seal (`passphrase` or `shares`) and wraps the
 * same root key under the new seal (`new_seal`, `new_passphrase`, `new_shares`,
 * `new_threshold`, `new_recovery_shares`, `new_recovery_threshold`). No data is re-encrypted.
 */
export const rekey = defineOperation({
  name: 'Rekey',
  namespace: 'Keyward',
  plane: 'system',
  parse: (input) => ({ auth: parseSealAuthorization(input), target: parseSealSpec(input, 'new_', 'passphrase') }),
  async run(ctx, req) {
    const secrets = await checkingSecret(ctx, 'Rekey', () => ctx.services.seal.rekey(req.auth, req.target));
    return { ...sealStatusView(ctx.services, await ctx.services.seal.status()), ...secretsView(secrets) };
  },
});
