import { KeywardError } from '../errors/index.js';
import { defineOperation } from './context.js';

/**
 * Retention: exports this node's (or Chain's) audit records older than OlderThanDays to a
 * JSON-lines file on the server and removes them; the first kept record stays anchored by a
 * signed checkpoint, so what remains still verifies.
 */
export const pruneAudit = defineOperation({
  name: 'PruneAudit',
  namespace: 'Keyward',
  plane: 'system',
  parse: (input) => ({
    olderThanDays: input.integer('OlderThanDays', { min: 0, max: 36_500 }) ?? (() => {
      throw new KeywardError('ValidationException', "1 validation error detected: Value at 'OlderThanDays' failed to satisfy constraint: Member must not be null");
    })(),
    chain: input.string('Chain', { min: 1, max: 256 }),
  }),
  async run(ctx, req) {
    const cutoff = new Date(ctx.services.clock().getTime() - req.olderThanDays * 86_400_000);
    let r;
    try {
      r = await ctx.services.audit.prune(cutoff, req.chain);
    } catch (e) {
      throw new KeywardError('KMSInvalidStateException', `Audit retention refused: ${(e as Error).message}`);
    }
    // the export is on the disk of the node that answered (auditExportDir may be shared storage): say which
    return { Chain: r.chain, PrunedThrough: r.prunedThrough, RecordsPruned: r.recordsPruned, ExportFile: r.exportFile, Node: r.node };
  },
});
