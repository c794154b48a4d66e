import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Store } from '../storage/index.js';
import type { AuditKeys } from './audit-keys.js';
import { checkpointPath, checkpointPrefix, recordPath, recordPrefix } from './layout.js';
import { encodeEntry, parseEntry, type AuditCheckpoint, type AuditEntry } from './record.js';
import { rawEntries, verifyStore } from './store-reader.js';

export interface PruneResult {
  readonly chain: string;
  /** The last pruned record (the anchor checkpoint's sequence number), or null if nothing was old enough. */
  readonly prunedThrough: number | null;
  readonly recordsPruned: number;
  /** The JSON-lines file holding what was pruned (verifiable on its own with the public key). */
  readonly exportFile: string | null;
  /** The node that pruned and wrote the export (its name is in the file name too). */
  readonly node: string;
}

const DELETE_BATCH = 500;

/**
 * Exports and removes a chain's records older than `cutoff`, keeping the rest verifiable: the last
 * pruned record's hash is signed into an `anchor` checkpoint that stays, so the first kept record
 * still links to something signed. The newest record is always kept. Refuses to prune a chain
 * that does not verify (pruning must not launder a break).
 */
export async function pruneChain(store: Store, keys: AuditKeys, options: {
  readonly chain: string;
  readonly cutoff: Date;
  readonly exportDir: string;
  /** The node writing the export (named in the file name: exports of many nodes may share a directory). */
  readonly node: string;
  readonly now: Date;
  readonly everyRecords: number;
  readonly everyMs: number;
}): Promise<PruneResult> {
  const { chain } = options;
  await keys.ready();
  const report = await verifyStore(store, { chain, publicKeys: keys.publicKeySet(), now: options.now });
  if (!report.ok && report.firstBreak !== null && report.firstBreak.kind !== 'unanchored') {
    throw new Error(`the audit chain ${chain} does not verify (${report.firstBreak.kind} at record ${report.firstBreak.seq}: ${report.firstBreak.message}); nothing was pruned`);
  }
  const cutoff = options.cutoff.getTime();
  const old: AuditEntry[] = [];
  let lastOld: { seq: number; hash: string } | undefined;
  let newest = 0;
  for await (const raw of rawEntries(store, recordPrefix(chain))) {
    const r = parseEntry(raw.text);
    if (r.type !== 'record') continue;
    newest = r.seq;
    if (Date.parse(r.time) < cutoff) {
      old.push(r);
      lastOld = { seq: r.seq, hash: r.hash };
    }
  }
  // Keep the newest record: the writer chains onto it.
  while (lastOld !== undefined && lastOld.seq >= newest) {
    old.pop();
    const prev = old[old.length - 1];
    lastOld = prev === undefined || prev.type !== 'record' ? undefined : { seq: prev.seq, hash: prev.hash };
  }
  if (lastOld === undefined) return { chain, prunedThrough: null, recordsPruned: 0, exportFile: null, node: options.node };
  const through = lastOld.seq;

  const checkpoints: AuditCheckpoint[] = [];
  for await (const raw of rawEntries(store, checkpointPrefix(chain))) {
    const c = parseEntry(raw.text);
    if (c.type === 'checkpoint' && c.seq < through) checkpoints.push(c);
  }
  const anchor = keys.sign({
    type: 'checkpoint', v: 1, chain, seq: through, head: lastOld.hash, time: options.now.toISOString(), kind: 'anchor',
    everyRecords: options.everyRecords, everyMs: options.everyMs, keyFingerprint: keys.fingerprint,
  });
  await store.put(checkpointPath(chain, through), Buffer.from(encodeEntry(anchor)));

  // The export, in log order: each checkpoint after the record it signs.
  mkdirSync(options.exportDir, { recursive: true, mode: 0o700 });
  const first = old[0]!.seq;
  const exportFile = join(options.exportDir, `audit-${encodeURIComponent(chain)}-${first}-${through}-${options.now.getTime()}-by-${encodeURIComponent(options.node)}.jsonl`);
  const bySeq = new Map<number, AuditCheckpoint[]>();
  for (const c of [...checkpoints, anchor]) bySeq.set(c.seq, [...(bySeq.get(c.seq) ?? []), c]);
  const fd = openSync(exportFile, 'wx', 0o600);
  try {
    for (const r of old) {
      writeSync(fd, `${encodeEntry(r)}\n`);
      for (const c of bySeq.get(r.seq) ?? []) writeSync(fd, `${encodeEntry(c)}\n`);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }

  // Only then remove: records up to the anchor, and the checkpoints before it.
  const doomed = [...old.map((r) => recordPath(chain, r.seq)), ...checkpoints.map((c) => checkpointPath(chain, c.seq))];
  for (let i = 0; i < doomed.length; i += DELETE_BATCH) {
    const slice = doomed.slice(i, i + DELETE_BATCH);
    await store.transaction(async (tx) => {
      for (const k of slice) await tx.delete(k);
    });
  }
  return { chain, prunedThrough: through, recordsPruned: old.length, exportFile, node: options.node };
}
