import { defineOperation } from './context.js';
import { invalid, type Input } from './common/input.js';

/** Audit records of one chain (this node's by default), filtered, oldest first; or the newest N. */
export const listAuditRecords = defineOperation({
  name: 'ListAuditRecords',
  namespace: 'Keyward',
  plane: 'system',
  parse: (input) => ({
    chain: input.string('Chain', { min: 1, max: 256 }),
    principal: input.string('Principal', { min: 1, max: 128 }),
    tenant: input.string('Tenant', { min: 1, max: 63 }),
    keyId: input.string('KeyId', { min: 1, max: 2048 }),
    op: input.string('Op', { min: 1, max: 128 }),
    since: readTime(input, 'Since'),
    until: readTime(input, 'Until'),
    afterSeq: input.integer('AfterSeq', { min: 0, max: Number.MAX_SAFE_INTEGER }),
    offset: input.integer('Offset', { min: 0, max: 1_000_000 }),
    tail: input.integer('Tail', { min: 1, max: 1000 }),
    limit: input.integer('Limit', { min: 1, max: 1000 }) ?? 100,
  }),
  async run(ctx, req) {
    const { audit } = ctx.services;
    const chains = await audit.chains();
    if (req.tail !== undefined) {
      const records = await audit.tail(req.chain, req.tail);
      return { Chain: req.chain ?? audit.chain, Chains: chains, Records: records };
    }
    const keyId = req.keyId === undefined ? undefined : req.keyId.slice(req.keyId.lastIndexOf(':key/') >= 0 ? req.keyId.lastIndexOf(':key/') + 5 : 0);
    const page = await audit.query({
      limit: req.limit,
      ...(req.chain !== undefined ? { chain: req.chain } : {}),
      ...(req.principal !== undefined ? { principal: req.principal } : {}),
      ...(req.tenant !== undefined ? { tenant: req.tenant } : {}),
      ...(keyId !== undefined ? { keyId } : {}),
      ...(req.op !== undefined ? { op: req.op } : {}),
      ...(req.since !== undefined ? { since: req.since } : {}),
      ...(req.until !== undefined ? { until: req.until } : {}),
      ...(req.afterSeq !== undefined ? { afterSeq: req.afterSeq } : {}),
      ...(req.offset !== undefined ? { offset: req.offset } : {}),
    });
    return { Chain: page.chain, Chains: chains, Records: page.records, ...(page.nextSeq !== undefined ? { NextSeq: page.nextSeq } : {}) };
  },
});

/** An ISO 8601 time. */
function readTime(input: Input, field: string): Date | undefined {
  const raw = input.string(field, { min: 1, max: 64 });
  if (raw === undefined) return undefined;
  const d = new Date(raw);
  if (Number.isNaN(d.getTime())) throw invalid(field, 'Member must be an ISO 8601 time');
  return d;
}
