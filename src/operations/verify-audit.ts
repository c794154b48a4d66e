import { parsePublicKeys } from '../audit/index.js';
import { invalid } from './common/input.js';
import { defineOperation } from './context.js';

/**
 * Walks the audit chains in the store and their checkpoints and reports the first break. The
 * signatures are checked with PublicKey when given (one or more PEM public keys, or the JSON of
 * ListAuditPublicKeys), else with every checkpoint key version of this installation.
 */
export const verifyAudit = defineOperation({
  name: 'VerifyAudit',
  namespace: 'Keyward',
  plane: 'system',
  parse: (input) => {
    const pem = input.string('PublicKey', { min: 1, max: 262_144 });
    let publicKeys;
    if (pem !== undefined) {
      try {
        publicKeys = parsePublicKeys(pem);
      } catch (e) {
        throw invalid('PublicKey', `Member must be Ed25519 public keys in PEM or the JSON of ListAuditPublicKeys (${(e as Error).message.slice(0, 120)})`);
      }
    }
    return {
      chain: input.string('Chain', { min: 1, max: 256 }),
      from: input.integer('FromSeq', { min: 1, max: Number.MAX_SAFE_INTEGER }),
      publicKeys,
    };
  },
  async run(ctx, req) {
    const report = await ctx.services.audit.verify({
      ...(req.chain !== undefined ? { chain: req.chain } : {}),
      ...(req.from !== undefined ? { from: req.from } : {}),
      ...(req.publicKeys !== undefined ? { publicKeys: req.publicKeys } : {}),
      // what this node's anchor saw: truncation past it and deleted chains are breaks too
      ...(ctx.services.rollback !== undefined ? { anchors: ctx.services.rollback.anchoredChains() } : {}),
    });
    return report as unknown as Record<string, unknown>;
  },
});
