import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { StoreConflictError, StoreUnavailableError, type BatchWrite } from '../store.js';

/**
 * A second SQLite connection in a worker thread for write-only batches (the audit log's group
 * commits): its COMMIT, and the fsync after it, run off the event loop, so requests keep being
 * served while a batch becomes durable. Same file, same WAL; SQLite's write lock orders it with
 * the main connection's transactions.
 *
 * With fsync the batch is committed with synchronous = NORMAL and the WAL file is then
 * fdatasync'ed by this thread before the batch is acknowledged: the same bytes are on disk as
 * with synchronous = FULL, but the write lock is released before the fsync instead of after it.
 * Processes sharing the file (--workers) then no longer queue behind each other's fsync; their
 * syncs overlap (and one covers every commit written before it). Safe because the WAL is
 * append-only between checkpoints and a checkpoint syncs the WAL first and the database after
 * (NORMAL does both): a synced WAL holds the batch, or a synced database does.
 */

// The worker runs as an eval'd CommonJS script (the sources also run untranspiled under the
// test runner, where a .ts worker file could not be loaded).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
// No SQLite busy handler here: its sleeps grow to 100 ms at a time (1, 2, 5, 10 ... ms), so when
// several processes (--workers) commit to one file, a batch waits far longer than the commit that
// holds the lock. begin() polls the write lock every 50 µs to 1 ms instead, for up to 5 s as before.
const pause = new Int32Array(new SharedArrayBuffer(4));
// Opened on the first batch, and again after SQLITE_READONLY / SQLITE_CANTOPEN: a connection
// opened while the file could not be written (a read-only volume, chattr +i) is read-only for good
// in SQLite, so without this the audit log would keep refusing after the store is writable again.
let conn;
const fs = require('node:fs');
function connect() {
  const db = new Database(workerData.path, { timeout: 5000 });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 0');
    return {
      db,
      wal: undefined,
      get: db.prepare('SELECT version FROM kv WHERE key = ?'),
      upsert: db.prepare('INSERT INTO kv (key, value, version) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, version = excluded.version'),
    };
  } catch (e) {
    db.close();
    throw e;
  }
}
// The WAL file stays while this connection is open (SQLite deletes it only when the last one closes).
// A failed fsync is final for this thread: the kernel may have dropped the unwritten pages, so a
// later fsync that succeeds would not prove the earlier batches durable (audit fails closed until a restart).
let syncFailed;
function syncWal(c) {
  if (c.wal === undefined) c.wal = fs.openSync(workerData.path + '-wal', 'r');
  try { fs.fdatasyncSync(c.wal); } catch (e) { syncFailed = e; throw e; }
}
function disconnect(c) {
  try { if (c.wal !== undefined) fs.closeSync(c.wal); } catch { /* closing either way */ }
  c.db.close();
}
function begin(db) {
  const deadline = Date.now() + 5000;
  for (let waitMs = 0.05; ; waitMs = Math.min(waitMs * 2, 1)) {
    try { db.exec('BEGIN IMMEDIATE'); return; } catch (e) {
      if (e.code !== 'SQLITE_BUSY' || Date.now() > deadline) throw e;
    }
    Atomics.wait(pause, 0, 0, waitMs);
  }
}
parentPort.on('message', (msg) => {
  if (msg.close) { if (conn) disconnect(conn); parentPort.postMessage({ closed: true }); return; }
  try {
    if (syncFailed) throw new Error('an earlier fsync of the WAL failed: ' + syncFailed.message);
    conn = conn || connect();
    const { db, get, upsert } = conn;
    begin(db);
    const versions = [];
    // every value is a slice of the one transferred buffer (see batchMessage below)
    const bytes = Buffer.from(msg.bytes);
    let offset = 0;
    try {
      for (let i = 0; i < msg.keys.length; i++) {
        const key = msg.keys[i];
        const value = bytes.subarray(offset, offset + msg.lengths[i]);
        offset += msg.lengths[i];
        const row = get.get(key);
        const current = row ? row.version : 0;
        const ifVersion = msg.ifVersions[i];
        if (ifVersion !== undefined && ifVersion !== current) {
          const e = new Error('conflict'); e.conflictKey = key; throw e;
        }
        upsert.run(key, value, current + 1);
        versions.push(current + 1);
      }
      db.exec('COMMIT');
    } catch (e) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw e;
    }
    if (workerData.fsync) syncWal(conn);
    parentPort.postMessage({ id: msg.id, versions });
  } catch (e) {
    const code = String((e && e.code) || '');
    if (conn && (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN'))) {
      try { disconnect(conn); } catch { /* reopened on the next batch either way */ }
      conn = undefined;
    }
    parentPort.postMessage({ id: msg.id, error: { message: String(e && e.message), code: e && e.code, conflictKey: e && e.conflictKey } });
  }
});
`;

interface Reply {
  readonly id?: number;
  readonly versions?: number[];
  readonly error?: { message: string; code?: string; conflictKey?: string };
  readonly closed?: boolean;
}

/**
 * A batch as the worker receives it: the keys, and every value's bytes one after another in one
 * ArrayBuffer of its own, transferred. Posting the values' views would clone each one's whole
 * ArrayBuffer: a small Buffer is a slice of Node's shared 8 KiB pool, which also holds whatever
 * else was allocated from it lately — a /v1/sys body with a passphrase (zeroed after the request,
 * but the worker's clone was not: it stayed in the worker's heap after a seal). One buffer rather
 * than one per value: transferring an ArrayBuffer costs the posting thread ~1.7 µs each (27 values:
 * 44-59 µs per post against 8-10 µs for one), on the event loop of every audited request.
 */
function batchMessage(id: number, ops: readonly BatchWrite[]): { message: object; transfer: ArrayBuffer[] } {
  let total = 0;
  for (const o of ops) total += o.value.byteLength;
  const buffer = new ArrayBuffer(total);
  const bytes = new Uint8Array(buffer);
  const keys: string[] = [];
  const lengths: number[] = [];
  const ifVersions: (number | undefined)[] = [];
  let offset = 0;
  for (const o of ops) {
    bytes.set(o.value, offset);
    offset += o.value.byteLength;
    keys.push(o.key);
    lengths.push(o.value.byteLength);
    ifVersions.push(o.ifVersion);
  }
  return { message: { id, keys, lengths, ifVersions, bytes: buffer }, transfer: [buffer] };
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
      if (m.id === undefined) return;
      const p = this.pending.get(m.id);
      if (p === undefined) return;
      this.pending.delete(m.id);
      if (m.error === undefined) p.resolve(m.versions ?? []);
      else if (m.error.conflictKey !== undefined) p.reject(new StoreConflictError(m.error.conflictKey));
      else p.reject(new StoreUnavailableError(`SQLite: ${m.error.message}`));
    });
    this.worker.on('error', (e) => this.failAll(e));
    this.worker.on('exit', () => this.failAll(new Error('the SQLite write worker exited')));
  }

  write(ops: readonly BatchWrite[]): Promise<number[]> {
    if (this.closing) return Promise.reject(new StoreUnavailableError('store is closed'));
    const id = this.nextId++;
    return new Promise<number[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const { message, transfer } = batchMessage(id, ops);
      this.worker.postMessage(message, transfer);
    });
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
