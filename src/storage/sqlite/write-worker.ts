import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { StoreConflictError, StoreUnavailableError, type BatchWrite } from '../store.js';

/**
 * A second SQLite connection in a worker thread for write-only batches (the audit log's group
 * commits): its COMMIT, and the fsync in it, run off the event loop, so requests keep being
 * served while a batch becomes durable. Same file, same WAL; SQLite's write lock orders it with
 * the main connection's transactions. With `--workers` the cluster primary runs the only one, for
 * every worker (see cluster.ts): one fsync per group instead of one per worker's batch.
 */

/** One batch of a group: its id and its writes (values as bytes). */
export interface GroupBatch { readonly id: number; readonly ops: readonly { readonly key: string; readonly value: Uint8Array; readonly ifVersion?: number | undefined }[] }
/** One batch's outcome: the versions written, or why it was refused. */
export interface GroupReply { readonly id: number; readonly versions?: number[]; readonly error?: { message: string; code?: string; conflictKey?: string } }

/**
 * A write connection that commits groups of batches: the batches given together share one
 * transaction and one fsync; each batch is a savepoint, so a compare-and-set conflict undoes and
 * refuses that batch alone, any other failure refuses the whole group. It runs in the write
 * thread (its source is copied there: it must not use anything from outside its parameters) and,
 * for a cluster, on the primary's own thread.
 */
export function openGroupCommitter(Database: typeof BetterSqlite3, path: string, fsync: boolean): { commit(group: readonly GroupBatch[]): GroupReply[]; close(): void } {
  const db = new Database(path, { timeout: 5000 });
  // No SQLite busy handler: its sleeps grow to 100 ms at a time (1, 2, 5, 10 ... ms), so when
  // several processes commit to one file, a batch waits far longer than the commit that holds the
  // lock. begin() polls the write lock every 50 µs to 1 ms instead, for up to 5 s.
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const begin = (): void => {
    const deadline = Date.now() + 5000;
    for (let waitMs = 0.05; ; waitMs = Math.min(waitMs * 2, 1)) {
      try {
        db.exec('BEGIN IMMEDIATE');
        return;
      } catch (e) {
        if ((e as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw e;
      }
      Atomics.wait(pause, 0, 0, waitMs);
    }
  };
  db.pragma('journal_mode = WAL');
  db.pragma(fsync ? 'synchronous = FULL' : 'synchronous = NORMAL');
  db.pragma('busy_timeout = 0');
  const get = db.prepare<[string], { version: number }>('SELECT version FROM kv WHERE key = ?');
  const upsert = db.prepare('INSERT INTO kv (key, value, version) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, version = excluded.version');
  const apply = (ops: GroupBatch['ops']): number[] => {
    const versions: number[] = [];
    for (const op of ops) {
      const current = get.get(op.key)?.version ?? 0;
      if (op.ifVersion !== undefined && op.ifVersion !== current) throw Object.assign(new Error('conflict'), { conflictKey: op.key });
      upsert.run(op.key, Buffer.from(op.value.buffer, op.value.byteOffset, op.value.byteLength), current + 1);
      versions.push(current + 1);
    }
    return versions;
  };
  return {
    commit(group) {
      const replies: GroupReply[] = [];
      try {
        begin();
        try {
          for (const batch of group) {
            db.exec('SAVEPOINT batch');
            try {
              replies.push({ id: batch.id, versions: apply(batch.ops) });
              db.exec('RELEASE batch');
            } catch (e) {
              const conflictKey = (e as { conflictKey?: string }).conflictKey;
              if (conflictKey === undefined) throw e;
              db.exec('ROLLBACK TO batch');
              db.exec('RELEASE batch');
              replies.push({ id: batch.id, error: { message: 'conflict', conflictKey } });
            }
          }
          db.exec('COMMIT');
        } catch (e) {
          if (db.inTransaction) db.exec('ROLLBACK');
          throw e;
        }
      } catch (e) {
        const error = { message: String((e as Error)?.message), code: String((e as { code?: string })?.code ?? '') };
        return group.map((b) => ({ id: b.id, error }));
      }
      return replies;
    },
    close() {
      db.close();
    },
  };
}

// The worker runs as an eval'd CommonJS script (the sources also run untranspiled under the
// test runner, where a .ts worker file could not be loaded).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const committer = (${openGroupCommitter.toString()})(Database, workerData.path, workerData.fsync);
// the batches delivered in one turn of the loop form a group (one fsync)
let queue = [];
let scheduled = false;
function flush() {
  scheduled = false;
  const group = queue;
  queue = [];
  if (group.length > 0) parentPort.postMessage({ replies: committer.commit(group) });
}
parentPort.on('message', (msg) => {
  if (msg.close) { flush(); committer.close(); parentPort.postMessage({ closed: true }); return; }
  if (msg.group) queue.push(...msg.group);
  else queue.push(msg);
  if (!scheduled) { scheduled = true; setImmediate(flush); }
});
`;

interface Reply {
  readonly replies?: GroupReply[];
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
    const group: GroupBatch[] = [];
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

/**
 * The cluster primary's writer: the same group commit on the primary's own thread (the primary
 * serves no requests; batches that arrive while it commits form the next group). Answers each
 * batch's versions, or the error to refuse it with.
 */
export class SqliteGroupWriter {
  private readonly committer: ReturnType<typeof openGroupCommitter>;

  constructor(path: string, fsync: boolean) {
    const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
    this.committer = openGroupCommitter(Database, path, fsync);
  }

  commit(batches: readonly (readonly BatchWrite[])[]): (number[] | StoreConflictError | StoreUnavailableError)[] {
    return this.committer.commit(batches.map((ops, id) => ({ id, ops }))).map((r) => {
      if (r.error === undefined) return r.versions ?? [];
      return r.error.conflictKey !== undefined ? new StoreConflictError(r.error.conflictKey) : new StoreUnavailableError(`SQLite: ${r.error.message}`);
    });
  }

  close(): void {
    this.committer.close();
  }
}
