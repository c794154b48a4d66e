import Database from 'better-sqlite3';
import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ChangeListeners } from '../change-listeners.js';
import { Mutex } from '../mutex.js';
import { SqliteWriteWorker } from './write-worker.js';
import {
  batchWriteInTransaction, clampLimit, prefixEnd, type BatchWrite, StoreConflictError, StoreSchemaError, StoreUnavailableError, type ListOptions,
  type ListPage, type PutOptions, type Store, type StoreChange, type StoreEntry, type StoreWriter,
} from '../store.js';

/** Schema versions this build knows; a file written by a newer Keyward is refused. */
export const SQLITE_SCHEMA_VERSION = 1;
const MIGRATIONS: Record<number, string> = {
  1: `
    CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL);
  `,
};
/** How many change rows are kept for other processes to catch up on. */
const CHANGES_KEPT = 10_000;

export interface SqliteStoreOptions {
  /** How often to look for commits made by other processes (workers, offline tools), in ms. */
  readonly pollIntervalMs?: number;
  /**
   * Whether batchWrite commits wait for fsync (the default: the WAL is fsynced after the commit,
   * before it is acknowledged; see write-worker.ts) or only for the OS (a batch survives a crash
   * of Keyward, not of the machine).
   */
  readonly batchWriteFsync?: boolean;
}

interface Row { key: string; value: Buffer; version: number }

/**
 * SQLite store (better-sqlite3): one file, WAL mode. Writes go through one connection under a
 * mutex (BEGIN IMMEDIATE, so several processes may share the file); reads use a second connection
 * that sees only committed data. Commits by other processes are picked up by polling
 * `PRAGMA data_version` and the `changes` table.
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  private readonly writeDb: Database.Database;
  private readonly readDb: Database.Database;
  private readonly writer = new Mutex();
  private readonly listeners = new ChangeListeners();
  private readonly stmts;
  private readonly poller: NodeJS.Timeout | undefined;
  private lastSeenSeq = 0;
  /**
   * The change rows of this handle's own commits that the poll has not passed yet: they were
   * announced at commit, and the read connection sees them as another connection's (it does), so
   * without this the poll announced them a second time, up to an interval later (a key's cached
   * material was evicted by its own creation, after the requests that had cached it again).
   */
  private readonly ownSeqs = new Set<number>();
  private lastDataVersion = 0;
  private closed = false;
  private writeWorker: SqliteWriteWorker | undefined;
  private readonly batchWriteFsync: boolean;

  constructor(readonly path: string, options: SqliteStoreOptions = {}) {
    this.batchWriteFsync = options.batchWriteFsync ?? true;
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    try {
      this.writeDb = new Database(path, { timeout: 5000 });
      // Owner-only whatever the umask; SQLite gives the -wal and -shm files the same mode.
      if (path !== ':memory:') chmodSync(path, 0o600);
      this.writeDb.pragma('journal_mode = WAL');
      this.writeDb.pragma('synchronous = FULL');
      migrate(this.writeDb);
      this.readDb = path === ':memory:' ? this.writeDb : new Database(path, { timeout: 5000, readonly: true });
    } catch (e) {
      if (e instanceof StoreSchemaError) throw e;
      throw new StoreUnavailableError(`cannot open SQLite store at ${path}: ${(e as Error).message}`, { cause: e });
    }
    this.stmts = {
      get: this.readDb.prepare<[string], Row>('SELECT key, value, version FROM kv WHERE key = ?'),
      list: this.readDb.prepare<[string, string, string, number], Row>('SELECT key, value, version FROM kv WHERE key >= ? AND key > ? AND key < ? ORDER BY key LIMIT ?'),
      txGet: this.writeDb.prepare<[string], Row>('SELECT key, value, version FROM kv WHERE key = ?'),
      txList: this.writeDb.prepare<[string, string, string, number], Row>('SELECT key, value, version FROM kv WHERE key >= ? AND key > ? AND key < ? ORDER BY key LIMIT ?'),
      upsert: this.writeDb.prepare('INSERT INTO kv (key, value, version) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, version = excluded.version'),
      del: this.writeDb.prepare('DELETE FROM kv WHERE key = ?'),
      logChange: this.writeDb.prepare('INSERT INTO changes (key) VALUES (?)'),
      prune: this.writeDb.prepare('DELETE FROM changes WHERE seq <= ?'),
      maxSeq: this.readDb.prepare<[], { seq: number | null }>('SELECT max(seq) AS seq FROM changes'),
      minSeq: this.readDb.prepare<[], { seq: number | null }>('SELECT min(seq) AS seq FROM changes'),
      changesAfter: this.readDb.prepare<[number], { seq: number; key: string }>('SELECT seq, key FROM changes WHERE seq > ? ORDER BY seq LIMIT 5000'),
    };
    this.lastSeenSeq = this.stmts.maxSeq.get()?.seq ?? 0;
    this.lastDataVersion = this.dataVersion();
    const interval = options.pollIntervalMs ?? 250;
    if (interval > 0 && path !== ':memory:') {
      this.poller = setInterval(() => this.pollForeignChanges(), interval);
      this.poller.unref();
    }
  }

  async get(key: string): Promise<StoreEntry | undefined> {
    return this.guard(() => toEntry(this.stmts.get.get(key)));
  }

  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    return this.guard(() => page(this.stmts.list, prefix, options));
  }

  put(key: string, value: Uint8Array, options?: PutOptions): Promise<number> {
    return this.transaction((tx) => tx.put(key, value, options));
  }

  delete(key: string, options?: PutOptions): Promise<boolean> {
    return this.transaction((tx) => tx.delete(key, options));
  }

  transaction<T>(fn: (tx: StoreWriter) => Promise<T>): Promise<T> {
    return this.writer.run(async () => {
      this.guard(() => this.writeDb.exec('BEGIN IMMEDIATE'));
      const changed = new Set<string>();
      const tx: StoreWriter = {
        get: async (key) => this.guard(() => toEntry(this.stmts.txGet.get(key))),
        list: async (prefix, options) => this.guard(() => page(this.stmts.txList, prefix, options)),
        put: async (key, value, options) => this.guard(() => {
          const current = this.stmts.txGet.get(key);
          checkVersion(key, current, options);
          const version = (current?.version ?? 0) + 1;
          this.stmts.upsert.run(key, Buffer.from(value.buffer, value.byteOffset, value.byteLength), version);
          changed.add(key);
          return version;
        }),
        delete: async (key, options) => this.guard(() => {
          const current = this.stmts.txGet.get(key);
          checkVersion(key, current, options);
          const removed = this.stmts.del.run(key).changes > 0;
          if (removed) changed.add(key);
          return removed;
        }),
      };
      let result: T;
      try {
        result = await fn(tx);
        this.guard(() => {
          const seqs: number[] = [];
          for (const key of changed) seqs.push(Number(this.stmts.logChange.run(key).lastInsertRowid));
          const seq = seqs[seqs.length - 1] ?? 0;
          if (seq > CHANGES_KEPT && seq % 100 === 0) this.stmts.prune.run(seq - CHANGES_KEPT);
          this.writeDb.exec('COMMIT');
          // once committed (a rolled-back row's seq can be taken again by another process's
          // commit), and only while a poller runs, which passes them: nothing else bounds the set
          if (this.poller !== undefined) for (const n of seqs) this.ownSeqs.add(n);
        });
      } catch (e) {
        if (this.writeDb.inTransaction) this.writeDb.exec('ROLLBACK');
        throw e;
      }
      this.listeners.emit({ keys: [...changed] });
      return result;
    });
  }

  /**
   * In a worker thread with its own connection (file stores), so the commit's fsync does not
   * stall the event loop. Not announced to watchers (see Store.batchWrite).
   */
  batchWrite(ops: readonly BatchWrite[]): Promise<number[]> {
    if (this.closed) return Promise.reject(new StoreUnavailableError('store is closed'));
    if (this.path === ':memory:') return batchWriteInTransaction(this, ops);
    this.writeWorker ??= new SqliteWriteWorker(this.path, this.batchWriteFsync);
    return this.writeWorker.write(ops);
  }

  watch(listener: (change: StoreChange) => void): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.poller) clearInterval(this.poller);
    await this.writeWorker?.close();
    await this.writer.run(() => {
      if (this.readDb !== this.writeDb) this.readDb.close();
      this.writeDb.close();
    });
  }

  /** Catches commits by other processes: cheap when nothing changed (one pragma read). */
  pollForeignChanges(): void {
    if (this.closed) return;
    try {
      const dv = this.dataVersion();
      if (dv === this.lastDataVersion) return;
      this.lastDataVersion = dv;
      const min = this.stmts.minSeq.get()?.seq ?? 0;
      if (min > this.lastSeenSeq + 1) {
        this.lastSeenSeq = this.stmts.maxSeq.get()?.seq ?? 0;
        this.ownSeqs.clear();
        this.listeners.emit({ all: true });
        return;
      }
      const keys = new Set<string>();
      for (;;) {
        const rows = this.stmts.changesAfter.all(this.lastSeenSeq);
        for (const r of rows) if (!this.ownSeqs.delete(r.seq)) keys.add(r.key);
        const last = rows[rows.length - 1];
        if (last) this.lastSeenSeq = last.seq;
        if (rows.length < 5000) break;
      }
      this.listeners.emit({ keys: [...keys] });
    } catch {
      this.ownSeqs.clear();
      this.listeners.emit({ all: true });
    }
  }

  private dataVersion(): number {
    return this.readDb.pragma('data_version', { simple: true }) as number;
  }

  private guard<T>(fn: () => T): T {
    if (this.closed) throw new StoreUnavailableError('store is closed');
    try {
      return fn();
    } catch (e) {
      if (e instanceof StoreConflictError || e instanceof StoreUnavailableError) throw e;
      const code = (e as { code?: string }).code ?? '';
      if (code.startsWith('SQLITE_')) throw new StoreUnavailableError(`SQLite: ${(e as Error).message}`, { cause: e });
      throw e;
    }
  }
}

function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)');
  const row = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE name = 'schema_version'").get();
  const current = row ? Number(row.value) : 0;
  if (current > SQLITE_SCHEMA_VERSION) {
    throw new StoreSchemaError(`the store's schema version ${current} is newer than this Keyward knows (${SQLITE_SCHEMA_VERSION}); upgrade Keyward`);
  }
  for (let v = current + 1; v <= SQLITE_SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v] ?? '');
      db.prepare("INSERT INTO meta (name, value) VALUES ('schema_version', ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value").run(String(v));
    }).immediate();
  }
}

function toEntry(row: Row | undefined): StoreEntry | undefined {
  return row === undefined ? undefined : { key: row.key, value: row.value, version: row.version };
}

function checkVersion(key: string, current: Row | undefined, options: PutOptions | undefined): void {
  if (options?.ifVersion === undefined) return;
  if ((current?.version ?? 0) !== options.ifVersion) throw new StoreConflictError(key);
}

function page(stmt: Database.Statement<[string, string, string, number], Row>, prefix: string, options: ListOptions | undefined): ListPage {
  const limit = clampLimit(options?.limit);
  const rows = stmt.all(prefix, options?.after ?? '', prefixEnd(prefix), limit + 1);
  const entries: StoreEntry[] = [];
  for (const r of rows.slice(0, limit)) entries.push({ key: r.key, value: r.value, version: r.version });
  const last = entries[entries.length - 1];
  return rows.length > limit && last !== undefined ? { entries, next: last.key } : { entries };
}
