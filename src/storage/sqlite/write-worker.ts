import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { StoreConflictError, StoreUnavailableError, type BatchWrite } from '../store.js';

/**
 * A second SQLite connection in a worker thread for write-only batches (the audit log's group
 * commits): its COMMIT, and the fsync in it, run off the event loop, so requests keep being
 * served while a batch becomes durable. Same file, same WAL; SQLite's write lock orders it with
 * the main connection's transactions. With `--workers` the cluster primary runs the only one, for
 * every worker (see cluster.ts): one fsync per group instead of one per worker's batch.
 */

// The worker runs as an eval'd CommonJS script (the sources also run untranspiled under the
// test runner, where a .ts worker file could not be loaded).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
// No SQLite busy handler here: its sleeps grow to 100 ms at a time (1, 2, 5, 10 ... ms), so when
// several processes (--workers) commit to one file, a batch waits far longer than the commit that
// holds the lock. begin() polls the write lock every 50 µs to 1 ms instead, for up to 5 s as before.
const db = new Database(workerData.path, { timeout: 5000 });
const pause = new Int32Array(new SharedArrayBuffer(4));
function begin() {
  const deadline = Date.now() + 5000;
  for (let waitMs = 0.05; ; waitMs = Math.min(waitMs * 2, 1)) {
    try { db.exec('BEGIN IMMEDIATE'); return; } catch (e) {
      if (e.code !== 'SQLITE_BUSY' || Date.now() > deadline) throw e;
    }
    Atomics.wait(pause, 0, 0, waitMs);
  }
}
db.pragma('journal_mode = WAL');
db.pragma(workerData.fsync ? 'synchronous = FULL' : 'synchronous = NORMAL');
db.pragma('busy_timeout = 0');
const get = db.prepare('SELECT version FROM kv WHERE key = ?');
const upsert = db.prepare('INSERT INTO kv (key, value, version) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, version = excluded.version');
// Group commit: the batches that arrived together (from this process, or from every worker of a
// cluster through the primary) share one transaction and one fsync. Each batch is a savepoint, so
// a compare-and-set conflict undoes and refuses that batch alone; any other failure refuses all.
let queue = [];
let scheduled = false;
function apply(ops) {
  const versions = [];
  for (const op of ops) {
    const row = get.get(op.key);
    const current = row ? row.version : 0;
    if (op.ifVersion !== undefined && op.ifVersion !== current) {
      const e = new Error('conflict'); e.conflictKey = op.key; throw e;
    }
    upsert.run(op.key, Buffer.from(op.value), current + 1);
    versions.push(current + 1);
  }
  return versions;
}
function flush() {
  scheduled = false;
  const group = queue;
  queue = [];
  if (group.length === 0) return;
  const replies = [];
  try {
    begin();
    try {
      for (const msg of group) {
        db.exec('SAVEPOINT batch');
        try {
          replies.push({ id: msg.id, versions: apply(msg.ops) });
          db.exec('RELEASE batch');
        } catch (e) {
          if (e.conflictKey === undefined) throw e;
          db.exec('ROLLBACK TO batch');
          db.exec('RELEASE batch');
          replies.push({ id: msg.id, error: { message: 'conflict', conflictKey: e.conflictKey } });
        }
      }
      db.exec('COMMIT');
    } catch (e) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw e;
    }
  } catch (e) {
    const error = { message: String(e && e.message), code: e && e.code };
    parentPort.postMessage({ replies: group.map((msg) => ({ id: msg.id, error })) });
    return;
  }
  parentPort.postMessage({ replies });
}
parentPort.on('message', (msg) => {
  if (msg.close) { flush(); db.close(); parentPort.postMessage({ closed: true }); return; }
  if (msg.group) queue.push(...msg.group);
  else queue.push(msg);
  // the messages already delivered in this turn of the loop join the group
  if (!scheduled) { scheduled = true; setImmediate(flush); }
});
`;

interface BatchReply {
  readonly id: number;
  readonly versions?: number[];
  readonly error?: { message: string; code?: string; conflictKey?: string };
}
interface Reply {
  readonly replies?: BatchReply[];
  readonly closed?: boolean;
}

export class SqliteWriteWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve(v: number[]): void; reject(e: unknown): void }>();
  private nextId = 1;
  private closing: Promise<void> | undefined;

  /** fsync: synchronous = FULL (each commit is on disk before it is acknowledged), as the main connection. */
  constructor(path: string, fsync: boolean) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, driver, fsync } });
    this.worker.unref();
    this.worker.on('message', (m: Reply) => {
      for (const r of m.replies ?? []) {
        const p = this.pending.get(r.id);
        if (p === undefined) continue;
        this.pending.delete(r.id);
        if (r.error === undefined) p.resolve(r.versions ?? []);
        else if (r.error.conflictKey !== undefined) p.reject(new StoreConflictError(r.error.conflictKey));
        else p.reject(new StoreUnavailableError(`SQLite: ${r.error.message}`));
      }
    });
    this.worker.on('error', (e) => this.failAll(e));
    this.worker.on('exit', () => this.failAll(new Error('the SQLite write worker exited')));
  }

  write(ops: readonly BatchWrite[]): Promise<number[]> {
    return this.writeGroup([ops])[0]!;
  }

  /** Several batches committed in one transaction (one fsync); each settles on its own (a conflict refuses one). */
  writeGroup(batches: readonly (readonly BatchWrite[])[]): Promise<number[]>[] {
    if (this.closing) return batches.map(() => Promise.reject(new StoreUnavailableError('store is closed')));
    const group: { id: number; ops: { key: string; value: Uint8Array; ifVersion: number | undefined }[] }[] = [];
    const answers = batches.map((ops) => {
      const id = this.nextId++;
      group.push({ id, ops: ops.map((o) => ({ key: o.key, value: o.value, ifVersion: o.ifVersion })) });
      return new Promise<number[]>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    });
    this.worker.postMessage({ group });
    return answers;
  }

  /** Waits for the batches in flight, then closes the worker's connection. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      while (this.pending.size > 0) await new Promise((r) => setTimeout(r, 1));
      await new Promise<void>((resolve) => {
        this.worker.once('exit', () => resolve());
        this.worker.once('message', (m: Reply) => {
          if (m.closed) void this.worker.terminate();
        });
        this.worker.postMessage({ close: true });
      });
    })();
    return this.closing;
  }

  private failAll(e: unknown): void {
    for (const p of this.pending.values()) p.reject(new StoreUnavailableError(`SQLite write worker: ${(e as Error).message}`, { cause: e }));
    this.pending.clear();
  }
}
