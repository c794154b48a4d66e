import { createRequire } from 'node:module';
import type pg from 'pg';
import { ChangeListeners } from '../change-listeners.js';
import {
  type BatchWrite, clampLimit, prefixEnd, StoreConflictError, StoreSchemaError, StoreUnavailableError, type ListOptions,
  type ListPage, type PutOptions, type Store, type StoreChange, type StoreEntry, type StoreHealth, type StoreReader, type StoreWriter,
} from '../store.js';

// loaded on first use: a node on SQLite never loads the PostgreSQL driver
const load = createRequire(import.meta.url);
let driver: typeof pg | undefined;
function pgDriver(): typeof pg {
  return (driver ??= load('pg') as typeof pg);
}

/** Schema versions this build knows; a database migrated by a newer Keyward is refused. */
export const POSTGRES_SCHEMA_VERSION = 1;
const MIGRATIONS: Record<number, string> = {
  // COLLATE "C": keys order by bytes, as in SQLite and the memory store, so paging agrees everywhere.
  1: 'CREATE TABLE keyward_kv (key text COLLATE "C" PRIMARY KEY, value bytea NOT NULL, version bigint NOT NULL)',
};
/** Serialises migrations of concurrently starting nodes (pg_advisory_xact_lock key). */
const MIGRATION_LOCK = 0x6b657977; // "keyw"
/** NOTIFY channel carrying the keys of each committed transaction. */
export const CHANGE_CHANNEL = 'keyward_changes';
/** NOTIFY payloads are limited to 8000 bytes; a bigger change says "everything may have changed". */
const MAX_PAYLOAD = 7000;
const ALL = '*';

export interface PostgresStoreOptions {
  /** Pool size per node. */
  readonly maxConnections?: number;
  /**
   * The deadline of every round trip to the database: connecting, waiting for a pooled
   * connection, each statement (default 2000 ms). A silent network fails a call after this long.
   */
  readonly timeoutMs?: number;
  /** How long to wait for a connection before failing the request (default: timeoutMs). */
  readonly connectTimeoutMs?: number;
  /** Limit per statement, on the server and on the client (default: timeoutMs). */
  readonly statementTimeoutMs?: number;
  /** Upper bound of the change listener's reconnect backoff. */
  readonly maxReconnectDelayMs?: number;
  /**
   * How often the change listener proves its connection alive (a round trip that must answer
   * within the same interval). A silently dead connection (half-open TCP) would otherwise miss
   * changes unnoticed for as long as the OS keepalive takes (hours).
   */
  readonly heartbeatMs?: number;
}

interface Row { key: string; value: Buffer; version: string }

type Queryable = Pick<pg.ClientBase, 'query'>;

/**
 * PostgreSQL store (node-postgres pool) for many stateless nodes over one database. Writes are
 * READ COMMITTED transactions whose compare-and-set is a conditional INSERT/UPDATE, so a racing
 * writer either waits for the row lock and then fails the condition, or wins. Each commit sends
 * NOTIFY with the changed keys (delivered only if the transaction commits); a dedicated LISTEN
 * connection feeds watch() and reconnects by itself, announcing "everything may have changed"
 * while it is down so that no node serves a cached record it cannot hear about.
 *
 * Every round trip has a deadline (timeoutMs). A connection whose round trip timed out is
 * destroyed, never rolled back over the silent link or reused. Once a call has timed out and the
 * listener has lost its connection too, calls fail at once (no waiting out the deadline again)
 * until the listener's reconnect loop or heartbeat gets an answer: fast failure during a
 * partition, recovery within a heartbeat of its end.
 */
export class PostgresStore implements Store {
  readonly kind = 'postgres';
  private readonly pool: pg.Pool;
  private readonly listeners = new ChangeListeners();
  private readonly maxReconnectDelayMs: number;
  private readonly connectTimeoutMs: number;
  private migrated: Promise<void> | undefined;
  private listener: pg.Client | undefined;
  private listening = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectDelayMs = 50;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly heartbeatMs: number;
  private closed = false;
  /** Set when a round trip timed out or the connection failed; cleared by the next answer. */
  private unanswered: string | undefined;
  private health_: StoreHealth = { reachable: false, reason: 'not connected yet', sinceMs: Date.now() };
  /**
   * Server process ids of this pool's open connections. A NOTIFY sent by one of them is this
   * handle's own commit, already announced when it committed (or, when the COMMIT's answer was
   * lost, announced anyway): without this, the listener announced it a second time a moment
   * later, evicting what requests had cached again since. An id is held only while its connection
   * is open, so the server cannot have given it to another session meanwhile.
   */
  private readonly ownBackends = new Set<number>();

  constructor(readonly url: string, options: PostgresStoreOptions = {}) {
    const timeoutMs = options.timeoutMs ?? 2000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? timeoutMs;
    this.maxReconnectDelayMs = options.maxReconnectDelayMs ?? 500;
    this.heartbeatMs = options.heartbeatMs ?? 1000;
    const statementTimeoutMs = options.statementTimeoutMs ?? timeoutMs;
    this.pool = new (pgDriver().Pool)({
      connectionString: url,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: this.connectTimeoutMs,
      statement_timeout: statementTimeoutMs,
      query_timeout: statementTimeoutMs,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: 'keyward',
    });
    // An idle connection dying (DB restart) is not fatal: the pool drops it and opens another.
    this.pool.on('error', () => undefined);
    this.pool.on('connect', (client) => {
      const pid = backendPid(client);
      if (pid !== undefined) this.ownBackends.add(pid);
    });
    this.pool.on('remove', (client) => {
      const pid = backendPid(client);
      if (pid !== undefined) this.ownBackends.delete(pid);
    });
  }

  /** The database's address without credentials, for logs and errors. */
  get displayUrl(): string {
    return redactUrl(this.url);
  }

  /**
   * Connects, runs pending migrations under an advisory lock (nodes starting together migrate
   * once) and starts listening for changes. Every operation awaits it; a failure (DB down) is
   * retried on the next call, a newer schema (StoreSchemaError) is not.
   */
  ready(): Promise<void> {
    if (this.closed) return Promise.reject(new StoreUnavailableError('store is closed'));
    this.migrated ??= this.migrate().then(() => this.startListening(), (e: unknown) => {
      if (!(e instanceof StoreSchemaError)) this.migrated = undefined;
      throw e;
    });
    return this.migrated;
  }

  async get(key: string): Promise<StoreEntry | undefined> {
    return this.guard(async () => getRow(this.pool, key));
  }

  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    return this.guard(async () => listRows(this.pool, prefix, options));
  }

  put(key: string, value: Uint8Array, options?: PutOptions): Promise<number> {
    return this.transaction((tx) => tx.put(key, value, options));
  }

  delete(key: string, options?: PutOptions): Promise<boolean> {
    return this.transaction((tx) => tx.delete(key, options));
  }

  transaction<T>(fn: (tx: StoreWriter) => Promise<T>): Promise<T> {
    return this.inTransaction((tx) => fn(tx));
  }

  /**
   * The audit log's group commit: new keys (ifVersion 0) in one multi-row INSERT instead of a
   * round trip each, the rest as in a transaction. Not announced to watchers (append-only data
   * nobody caches; a big NOTIFY would make every other node drop its caches).
   */
  batchWrite(ops: readonly BatchWrite[]): Promise<number[]> {
    return this.inTransaction(async (tx, client) => {
      const versions = new Array<number>(ops.length).fill(0);
      const fresh = ops.map((o, i) => ({ o, i })).filter((x) => x.o.ifVersion === 0);
      if (fresh.length > 0) {
        const r = await this.guard(() => client.query<{ key: string }>(
          'INSERT INTO keyward_kv (key, value, version) SELECT k, v, 1 FROM unnest($1::text[], $2::bytea[]) AS t(k, v) ON CONFLICT (key) DO NOTHING RETURNING key',
          [fresh.map((x) => x.o.key), fresh.map((x) => Buffer.from(x.o.value.buffer, x.o.value.byteOffset, x.o.value.byteLength))],
        ));
        if (r.rows.length !== fresh.length) {
          const written = new Set(r.rows.map((row) => row.key));
          throw new StoreConflictError(fresh.find((x) => !written.has(x.o.key))?.o.key ?? fresh[0]!.o.key);
        }
        for (const x of fresh) versions[x.i] = 1;
      }
      for (const [i, o] of ops.entries()) {
        if (o.ifVersion !== 0) versions[i] = await this.guard(() => putRow(client, o.key, Buffer.from(o.value.buffer, o.value.byteOffset, o.value.byteLength), o.ifVersion === undefined ? undefined : { ifVersion: o.ifVersion }));
      }
      return versions;
    });
  }

  private async inTransaction<T>(fn: (tx: StoreWriter, client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.withClientTransaction('BEGIN', async (client) => {
      const changed = new Set<string>();
      const tx: StoreWriter = {
        get: (key) => this.guard(() => getRow(client, key)),
        list: (prefix, options) => this.guard(() => listRows(client, prefix, options)),
        put: (key, value, options) => this.guard(async () => {
          const version = await putRow(client, key, Buffer.from(value.buffer, value.byteOffset, value.byteLength), options);
          changed.add(key);
          return version;
        }),
        delete: (key, options) => this.guard(async () => {
          const removed = await deleteRow(client, key, options);
          if (removed) changed.add(key);
          return removed;
        }),
      };
      const result = await fn(tx, client);
      if (changed.size > 0) await this.guard(() => client.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, changePayload(changed)]));
      return { result, committed: () => this.listeners.emit({ keys: [...changed] }) };
    });
  }

  /** A REPEATABLE READ, READ ONLY transaction: every page read sees the same committed state. */
  async snapshot<T>(fn: (reader: StoreReader) => Promise<T>): Promise<T> {
    return this.withClientTransaction('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', async (client) => ({
      result: await fn({
        get: (key) => this.guard(() => getRow(client, key)),
        list: (prefix, options) => this.guard(() => listRows(client, prefix, options)),
      }),
    }));
  }

  /** BEGIN, run, COMMIT (then `committed`), or ROLLBACK; a connection that fails to roll back is destroyed. */
  private async withClientTransaction<T>(begin: string, fn: (client: pg.PoolClient) => Promise<{ result: T; committed?: () => void }>): Promise<T> {
    const client = await this.guard(() => this.pool.connect());
    let broken: unknown;
    let maybeCommitted: (() => void) | undefined;
    try {
      await this.guard(() => client.query(begin));
      const { result, committed } = await fn(client);
      maybeCommitted = committed;
      await this.guard(() => client.query('COMMIT'));
      committed?.();
      return result;
    } catch (e) {
      // a COMMIT without an answer may have committed: its changes are announced here, since the
      // listener skips this connection's own NOTIFY (a needless eviction costs a reload, a missed one a stale cache)
      maybeCommitted?.();
      // a connection that timed out or failed is destroyed: a ROLLBACK over it would only wait
      // out another deadline (the server rolls back when the connection goes)
      broken = e instanceof StoreUnavailableError ? e : await client.query('ROLLBACK').then(() => undefined, (rollbackError: unknown) => rollbackError);
      throw e;
    } finally {
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  watch(listener: (change: StoreChange) => void): () => void {
    return this.listeners.add(listener);
  }

  /** Whether the change listener is connected (else every watcher is told "all" until it is). */
  get listeningForChanges(): boolean {
    return this.listening;
  }

  /** Reachable while the listener is connected and no call has gone unanswered since its last answer. */
  health(): StoreHealth {
    return this.health_;
  }

  private noteHealth(): void {
    const reason = this.unanswered ?? (this.listening ? undefined : 'the change listener is not connected');
    const reachable = reason === undefined;
    if (reachable === this.health_.reachable && reason === this.health_.reason) return;
    this.health_ = { reachable, ...(reason !== undefined ? { reason } : {}), sinceMs: reachable === this.health_.reachable ? this.health_.sinceMs : Date.now() };
  }

  private answered(): void {
    if (this.unanswered === undefined) return;
    this.unanswered = undefined;
    this.noteHealth();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.stopHeartbeat();
    const listener = this.listener;
    this.listener = undefined;
    this.listening = false;
    await listener?.end().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }

  private async migrate(): Promise<void> {
    const client = await this.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await client.query('CREATE TABLE IF NOT EXISTS keyward_meta (name text PRIMARY KEY, value text NOT NULL)');
      const r = await client.query<{ value: string }>("SELECT value FROM keyward_meta WHERE name = 'schema_version'");
      const current = r.rows[0] ? Number(r.rows[0].value) : 0;
      if (current > POSTGRES_SCHEMA_VERSION) {
        throw new StoreSchemaError(`the database's schema version ${current} is newer than this Keyward knows (${POSTGRES_SCHEMA_VERSION}); upgrade Keyward`);
      }
      for (let v = current + 1; v <= POSTGRES_SCHEMA_VERSION; v++) {
        await client.query(MIGRATIONS[v] ?? '');
        await client.query(
          "INSERT INTO keyward_meta (name, value) VALUES ('schema_version', $1) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
          [String(v)],
        );
      }
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (e instanceof StoreSchemaError) throw e;
      throw unavailable(e, this.displayUrl);
    } finally {
      client.release();
    }
  }

  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (e) {
      throw unavailable(e, this.displayUrl);
    }
  }

  private async startListening(): Promise<void> {
    if (this.closed || this.listener !== undefined) return;
    const client = new (pgDriver().Client)({ connectionString: this.url, connectionTimeoutMillis: this.connectTimeoutMs, keepAlive: true, application_name: 'keyward-listen' });
    this.listener = client;
    const lost = () => {
      if (this.listener !== client) return;
      this.listener = undefined;
      this.listening = false;
      this.noteHealth();
      this.stopHeartbeat();
      client.removeAllListeners('notification');
      void client.end().catch(() => undefined);
      this.scheduleReconnect();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (msg) => {
      if (msg.channel !== CHANGE_CHANNEL || this.ownBackends.has(msg.processId)) return;
      const payload = msg.payload ?? ALL;
      if (payload === ALL) {
        this.listeners.emit({ all: true });
        return;
      }
      try {
        this.listeners.emit({ keys: JSON.parse(payload) as string[] });
      } catch {
        this.listeners.emit({ all: true });
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch (e) {
      lost();
      throw unavailable(e, this.displayUrl);
    }
    if (this.listener !== client) return;
    this.listening = true;
    this.unanswered = undefined;
    this.noteHealth();
    this.reconnectDelayMs = 50;
    this.startHeartbeat(client, lost);
    // whatever committed while nobody listened is unknown: caches start over
    this.listeners.emit({ all: true });
  }

  private startHeartbeat(client: pg.Client, lost: () => void): void {
    this.stopHeartbeat();
    let pending = false;
    this.heartbeat = setInterval(() => {
      // the previous round trip has not answered within one interval: the connection is gone
      if (pending) {
        lost();
        return;
      }
      pending = true;
      client.query('SELECT 1').then(() => {
        pending = false;
        this.answered();
      }, () => lost());
    }, this.heartbeatMs);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    this.listeners.emit({ all: true });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.startListening().catch(() => this.scheduleReconnect());
    }, this.reconnectDelayMs);
    this.reconnectTimer.unref();
    this.reconnectDelayMs = Math.min(this.maxReconnectDelayMs, this.reconnectDelayMs * 2);
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    await this.ready();
    // a call went unanswered and the listener cannot reach the database either: fail now
    if (this.unanswered !== undefined && !this.listening) {
      throw new StoreUnavailableError(`PostgreSQL at ${this.displayUrl} is unavailable: ${this.unanswered} (failing fast until it answers again)`);
    }
    try {
      const result = await fn();
      this.answered();
      return result;
    } catch (e) {
      if (e instanceof StoreConflictError) throw e;
      if (e instanceof StoreUnavailableError) throw this.unanswer(e);
      const code = (e as { code?: unknown }).code;
      // serialization failure and deadlock: another writer won, the caller may retry
      if (code === '40001' || code === '40P01') throw new StoreConflictError('');
      if (isUnavailable(e)) throw this.unanswer(unavailable(e, this.displayUrl));
      this.answered();
      throw e;
    }
  }

  private unanswer(e: StoreUnavailableError): StoreUnavailableError {
    this.unanswered = (e.cause instanceof Error ? e.cause.message : e.message).slice(0, 200);
    this.noteHealth();
    return e;
  }
}

async function getRow(db: Queryable, key: string): Promise<StoreEntry | undefined> {
  const r = await db.query<Row>('SELECT key, value, version FROM keyward_kv WHERE key = $1', [key]);
  const row = r.rows[0];
  return row === undefined ? undefined : toEntry(row);
}

async function listRows(db: Queryable, prefix: string, options: ListOptions | undefined): Promise<ListPage> {
  const limit = clampLimit(options?.limit);
  const r = await db.query<Row>(
    'SELECT key, value, version FROM keyward_kv WHERE key >= $1 AND key > $2 AND key < $3 AND starts_with(key, $1) ORDER BY key LIMIT $4',
    [prefix, options?.after ?? '', prefixEnd(prefix), limit + 1],
  );
  const entries = r.rows.slice(0, limit).map(toEntry);
  const last = entries[entries.length - 1];
  return r.rows.length > limit && last !== undefined ? { entries, next: last.key } : { entries };
}

/** The compare-and-set is in the statement's WHERE / ON CONFLICT: a racing writer waits, then fails it. */
async function putRow(db: Queryable, key: string, value: Buffer, options: PutOptions | undefined): Promise<number> {
  let r: pg.QueryResult<{ version: string }>;
  if (options?.ifVersion === undefined) {
    r = await db.query('INSERT INTO keyward_kv (key, value, version) VALUES ($1, $2, 1) ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = keyward_kv.version + 1 RETURNING version', [key, value]);
  } else if (options.ifVersion === 0) {
    r = await db.query('INSERT INTO keyward_kv (key, value, version) VALUES ($1, $2, 1) ON CONFLICT (key) DO NOTHING RETURNING version', [key, value]);
  } else {
    r = await db.query('UPDATE keyward_kv SET value = $2, version = version + 1 WHERE key = $1 AND version = $3 RETURNING version', [key, value, options.ifVersion]);
  }
  const row = r.rows[0];
  if (row === undefined) throw new StoreConflictError(key);
  return Number(row.version);
}

async function deleteRow(db: Queryable, key: string, options: PutOptions | undefined): Promise<boolean> {
  if (options?.ifVersion === undefined) {
    return ((await db.query('DELETE FROM keyward_kv WHERE key = $1', [key])).rowCount ?? 0) > 0;
  }
  if (options.ifVersion === 0) {
    // "must not exist": deleting nothing succeeds only if there is nothing
    const exists = await db.query('SELECT 1 FROM keyward_kv WHERE key = $1 FOR UPDATE', [key]);
    if (exists.rows.length > 0) throw new StoreConflictError(key);
    return false;
  }
  const r = await db.query('DELETE FROM keyward_kv WHERE key = $1 AND version = $2', [key, options.ifVersion]);
  if ((r.rowCount ?? 0) === 0) throw new StoreConflictError(key);
  return true;
}

function toEntry(row: Row): StoreEntry {
  return { key: row.key, value: row.value, version: Number(row.version) };
}

function changePayload(keys: Set<string>): string {
  const json = JSON.stringify([...keys]);
  return Buffer.byteLength(json) > MAX_PAYLOAD ? ALL : json;
}

/** The server process id of a connected pool client (node-postgres keeps it as `processID`). */
function backendPid(client: pg.PoolClient): number | undefined {
  const pid = (client as { processID?: unknown }).processID;
  return typeof pid === 'number' ? pid : undefined;
}

/** Connection-level failures (refused, reset, timed out, server shutting down, out of resources). */
function isUnavailable(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && /^(08|53|57|58)/.test(code)) return true;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return true; // ECONNREFUSED, ECONNRESET, ETIMEDOUT...
  const message = e instanceof Error ? e.message : '';
  return /Connection terminated|timeout|Client has encountered a connection error|not queryable|Cannot use a pool after calling end/i.test(message);
}

function unavailable(e: unknown, where: string): StoreUnavailableError {
  const reason = e instanceof Error ? e.message : String(e);
  return new StoreUnavailableError(`PostgreSQL at ${where} is unavailable: ${reason}`, { cause: e });
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable url)';
  }
}
