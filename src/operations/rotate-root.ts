import { parseSealAuthorization } from './common/seal-spec.js';
import { secretsView } from './common/seal-spec.js';
import { checkingSecret } from './common/secret-check.js';
import { sealStatusView } from './common/seal-status.js';
import { defineOperation } from './context.js';

/**
 * Replaces the root key: a new one seals the keyring record and is wrapped under the current
 * seal, in one transaction. Authorised like rekey (`passphrase` or `shares`); shamir shares stay.
 */
export const rotateRoot = defineOperation({
  name: 'RotateRoot',
  namespace: 'Keyward',
  plane: 'system',
  parse: (input) => parseSealAuthorization(input),
  async run(ctx, auth) {
    const secrets = await checkingSecret(ctx, 'RotateRoot', () => ctx.services.seal.rotateRoot(auth));
    return { ...sealStatusView(ctx.services, await ctx.services.seal.status()), rotated: 'root', ...secretsView(secrets) };
  },
});
