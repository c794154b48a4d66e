import { MAX_SHARES } from '../seal/index.js';
import { checkingSecret } from './common/secret-check.js';
import { parseSealAuthorization } from './common/seal-spec.js';
import { defineOperation } from './context.js';

/**
 * Exports the root key split into `escrow_shares` Shamir shares (`escrow_threshold` recover it),
 * for disaster recovery from a store backup (`keyward recover`). Authorised like rekey
 * (`passphrase` or `shares`); answered once, stored nowhere.
 */
export const escrow = defineOperation({
  name: 'Escrow',
  namespace: 'Keyward',
  plane: 'system',
  parse: (input) => ({
    auth: parseSealAuthorization(input),
    layout: {
      shares: input.integer('escrow_shares', { min: 1, max: MAX_SHARES }) ?? 5,
      threshold: input.integer('escrow_threshold', { min: 1, max: MAX_SHARES }) ?? 3,
    },
  }),
  async run(ctx, req) {
    const shares = await checkingSecret(ctx, 'Escrow', () => ctx.services.seal.escrow(req.auth, req.layout));
    return { escrow_shares: shares, escrow_threshold: req.layout.threshold };
  },
});
