import { defineOperation } from './context.js';
import { invalid, type Input } from './common/input.js';

/**
 * Audit records, filtered, oldest first; or the newest N. Every chain (every node) by default,
 * merged by time, with NextToken to continue; Chain narrows to one (AfterSeq/NextSeq page it).
 */
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
    nextToken: readToken(input),
  }),
  async run(ctx, req) {
    const { audit } = ctx.services;
    const chains = await audit.chains();
    if (req.tail !== undefined) {
      const records = await audit.tail(req.chain, req.tail);
      return { Chain: req.chain ?? audit.chain, Chains: chains, Records: records };
    }
    const filters = {
      ...(req.principal !== undefined ? { principal: req.principal } : {}),
      ...(req.tenant !== undefined ? { tenant: req.tenant } : {}),
      ...(req.op !== undefined ? { op: req.op } : {}),
      ...(req.since !== undefined ? { since: req.since } : {}),
      ...(req.until !== undefined ? { until: req.until } : {}),
      ...(req.offset !== undefined ? { offset: req.offset } : {}),
    };
    if (req.chain === undefined && req.afterSeq === undefined) {
      const id = req.keyId === undefined ? undefined : req.keyId.slice(req.keyId.lastIndexOf(':key/') >= 0 ? req.keyId.lastIndexOf(':key/') + 5 : 0);
      const merged = await audit.queryAll({ limit: req.limit, ...filters, ...(id !== undefined ? { keyId: id } : {}), ...(req.nextToken !== undefined ? { after: req.nextToken } : {}) });
      return { Chain: null, Chains: chains, Records: merged.records, ...(merged.next !== undefined ? { NextToken: Buffer.from(JSON.stringify(merged.next)).toString('base64url') } : {}) };
    }
    const keyId = req.keyId === undefined ? undefined : req.keyId.slice(req.keyId.lastIndexOf(':key/') >= 0 ? req.keyId.lastIndexOf(':key/') + 5 : 0);
    const page = await audit.query({
      limit: req.limit,
      ...filters,
      ...(req.chain !== undefined ? { chain: req.chain } : {}),
      ...(keyId !== undefined ? { keyId } : {}),
      ...(req.afterSeq !== undefined ? { afterSeq: req.afterSeq } : {}),
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

/** NextToken: the per-chain positions a merged page ended at (opaque to callers). */
function readToken(input: Input): Record<string, number> | undefined {
  const raw = input.string('NextToken', { min: 1, max: 65_536 });
  if (raw === undefined) return undefined;
  try {
    const o = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as unknown;
    if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new Error('not an object');
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Error('not a position');
      out[k] = v;
    }
    return out;
  } catch {
    throw invalid('NextToken', 'Member must be a NextToken this operation returned');
  }
}
