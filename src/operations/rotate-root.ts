import { MAX_SHARES } from '../seal/index.js';
import { parseSealAuthorization, secretsView } from './common/seal-spec.js';
import { checkingSecret } from './common/secret-check.js';
import { sealStatusView } from './common/seal-status.js';
import { defineOperation } from './context.js';

/**
 * Replaces the root key: a new one seals the keyring record and is wrapped under the current
 * seal, in one transaction. Authorised like rekey (`passphrase` or `shares`); shamir shares stay.
 * Escrow shares issued before recover nothing afterwards: when some were issued, the rotation
 * re-issues them (`escrow_shares`, `escrow_threshold`, answered once as `escrow_shares`) or needs
 * `i_understand_escrow_is_invalidated: true` (the seal status then warns until new ones are issued).
 */
export const rotateRoot = defineOperation({
  name: 'RotateRoot',
  namespace: 'Keyward',
  plane: 'system',
  parse: (input) => {
    const shares = input.integer('escrow_shares', { min: 1, max: MAX_SHARES });
    const threshold = input.integer('escrow_threshold', { min: 1, max: MAX_SHARES });
    const accept = input.boolean('i_understand_escrow_is_invalidated');
    const reissue = shares !== undefined || threshold !== undefined ? { shares: shares ?? 5, threshold: threshold ?? Math.min(3, shares ?? 5) } : undefined;
    return { auth: parseSealAuthorization(input), escrow: { ...(reissue !== undefined ? { reissue } : {}), ...(accept !== undefined ? { acceptInvalidated: accept } : {}) } };
  },
  async run(ctx, req) {
    const secrets = await checkingSecret(ctx, 'RotateRoot', () => ctx.services.seal.rotateRoot(req.auth, undefined, req.escrow));
    return {
      ...sealStatusView(ctx.services, await ctx.services.seal.status()),
      rotated: 'root',
      ...secretsView(secrets),
      ...(secrets.escrowShares !== undefined ? { escrow_shares: secrets.escrowShares, escrow_threshold: req.escrow.reissue!.threshold } : {}),
    };
  },
});
