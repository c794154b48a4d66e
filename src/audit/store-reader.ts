import type { Store } from '../storage/index.js';
import {
  CHAIN_INDEX_PREFIX, chainFromIndexPath, checkpointPath, checkpointPrefix, headPath, recordPath, recordPrefix, seqOfPath,
} from './layout.js';
import { parseEntry, type AuditRecord } from './record.js';
import { combineReports, verifyChain, type RawEntry, type VerifyOptions, type VerifyReport } from './verify.js';

/** Every chain in the store (one per node id that ever wrote). */
export async function listChains(store: Store): Promise<string[]> {
  const chains: string[] = [];
  let after: string | undefined;
  do {
    const page = await store.list(CHAIN_INDEX_PREFIX, { limit: 1000, ...(after !== undefined ? { after } : {}) });
    for (const e of page.entries) chains.push(chainFromIndexPath(e.key));
    after = page.next;
  } while (after !== undefined);
  return chains;
}

/** The raw entries under a prefix, in path order, from `after` on. */
export async function* rawEntries(store: Store, prefix: string, after?: string): AsyncGenerator<RawEntry> {
  let cursor = after;
  for (;;) {
    const page = await store.list(prefix, { limit: 1000, ...(cursor !== undefined ? { after: cursor } : {}) });
    for (const e of page.entries) yield { where: e.key, text: e.value.toString('utf8'), pathSeq: seqOfPath(e.key) };
    if (page.next === undefined) return;
    cursor = page.next;
  }
}

async function collect(gen: AsyncGenerator<RawEntry>): Promise<RawEntry[]> {
  const out: RawEntry[] = [];
  for await (const e of gen) out.push(e);
  return out;
}

/** Verifies every chain in the store (or one), reporting the first break precisely. */
export async function verifyStore(store: Store, options: Omit<VerifyOptions, 'anchor'> & { readonly chain?: string; readonly anchors?: Readonly<Record<string, { seq: number; hash: string }>> }): Promise<VerifyReport> {
  const listed = options.chain !== undefined ? [options.chain] : await listChains(store);
  // a chain the anchor knows is verified even when its index entry is gone (a deleted chain)
  const chains = options.chain !== undefined ? listed : [...new Set([...listed, ...Object.keys(options.anchors ?? {})])].sort();
  const results = [];
  for (const chain of chains) {
    const anchor = options.anchors?.[chain];
    const from = options.from;
    const recordsAfter = from !== undefined && from > 1 ? recordPath(chain, from - 1) : undefined;
    const cpAfter = from !== undefined && from > 2 ? checkpointPath(chain, from - 2) : undefined;
    const entries = [
      ...await collect(rawEntries(store, recordPrefix(chain), recordsAfter)),
      ...await collect(rawEntries(store, checkpointPrefix(chain), cpAfter)),
    ];
    const { anchors: _anchors, ...rest } = options;
    results.push(verifyChain(chain, entries, { ...rest, ...(anchor !== undefined ? { anchor } : {}) }));
  }
  return combineReports(results);
}

export interface AuditQuery {
  readonly chain?: string;
  readonly principal?: string;
  readonly tenant?: string;
  readonly keyId?: string;
  readonly op?: string;
  readonly since?: Date;
  readonly until?: Date;
  /** Start after this sequence number (paging). */
  readonly afterSeq?: number;
  /** Skip this many matching records first (offset paging, as miniKMS's GetAuditLogs). */
  readonly offset?: number;
  readonly limit: number;
}

export interface AuditPage {
  readonly records: readonly AuditRecord[];
  /** Pass as afterSeq to continue (same chain). */
  readonly nextSeq?: number;
  readonly chain: string | null;
}

/**
 * Records of one chain matching the filters, oldest first. Filtering scans the chain (the log is
 * append-only and not indexed); `limit` bounds what is returned, not what is read.
 */
export async function queryRecords(store: Store, defaultChain: string, q: AuditQuery): Promise<AuditPage> {
  const chain = q.chain ?? defaultChain;
  const out: AuditRecord[] = [];
  const after = q.afterSeq !== undefined && q.afterSeq > 0 ? recordPath(chain, q.afterSeq) : undefined;
  const since = q.since?.getTime();
  const until = q.until?.getTime();
  let skipped = 0;
  for await (const raw of rawEntries(store, recordPrefix(chain), after)) {
    let r;
    try {
      r = parseEntry(raw.text);
    } catch {
      continue;
    }
    if (r.type !== 'record') continue;
    const t = Date.parse(r.time);
    if (until !== undefined && t > until) break;
    if (since !== undefined && t < since) continue;
    if (q.principal !== undefined && r.principal !== q.principal) continue;
    if (q.tenant !== undefined && r.tenant !== q.tenant) continue;
    if (q.keyId !== undefined && r.keyId !== q.keyId) continue;
    if (q.op !== undefined && r.op !== q.op) continue;
    if (skipped < (q.offset ?? 0)) {
      skipped++;
      continue;
    }
    out.push(r);
    if (out.length >= q.limit) return { records: out, nextSeq: r.seq, chain };
  }
  return { records: out, chain };
}

/** The newest `count` records of a chain (tail), oldest first. */
export async function tailRecords(store: Store, chain: string, count: number): Promise<AuditRecord[]> {
  const head = await store.get(headPath(chain));
  if (head === undefined) return [];
  const { seq } = JSON.parse(head.value.toString('utf8')) as { seq: number };
  const fromSeq = Math.max(1, seq - count + 1);
  const page = await queryRecords(store, chain, { chain, afterSeq: fromSeq - 1, limit: count });
  return [...page.records];
}

/** Oldest first across chains: by time, then chain, then sequence number. */
function byTime(a: AuditRecord, b: AuditRecord): number {
  return a.time < b.time ? -1 : a.time > b.time ? 1 : a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : a.seq - b.seq;
}

export interface MergedAuditPage {
  readonly records: readonly AuditRecord[];
  /** Per chain, the last sequence number returned: pass back as `after` to continue. */
  readonly next?: Readonly<Record<string, number>>;
}

/**
 * Records of every chain matching the filters, merged oldest first (by time). Each chain is read
 * up to `offset + limit` matches; what is returned is a prefix of each chain's matches, so the
 * per-chain position of the last one returned is a correct cursor.
 */
export async function queryAllChains(store: Store, q: Omit<AuditQuery, 'chain' | 'afterSeq'> & { readonly after?: Readonly<Record<string, number>> }): Promise<MergedAuditPage> {
  const chains = await listChains(store);
  const want = (q.offset ?? 0) + q.limit;
  const all: AuditRecord[] = [];
  let more = false;
  for (const chain of chains) {
    const afterSeq = q.after?.[chain];
    const { offset: _o, after: _a, ...filters } = q;
    const page = await queryRecords(store, chain, { ...filters, chain, limit: want, ...(afterSeq !== undefined ? { afterSeq } : {}) });
    if (page.nextSeq !== undefined) more = true;
    all.push(...page.records);
  }
  all.sort(byTime);
  const records = all.slice(q.offset ?? 0, want);
  if (records.length < all.length - (q.offset ?? 0)) more = true;
  if (!more || records.length === 0) return { records };
  const next: Record<string, number> = { ...(q.after ?? {}) };
  for (const r of all.slice(0, want)) next[r.chain] = Math.max(next[r.chain] ?? 0, r.seq);
  return { records, next };
}

/** The newest `count` records across every chain, oldest first. */
export async function tailAllChains(store: Store, count: number): Promise<AuditRecord[]> {
  const all: AuditRecord[] = [];
  for (const chain of await listChains(store)) all.push(...await tailRecords(store, chain, count));
  all.sort(byTime);
  return all.slice(Math.max(0, all.length - count));
}
