/**
 * The untrusted key-value store under the barrier. Values are opaque bytes (already encrypted);
 * every entry carries a version that increases on each write, for compare-and-set.
 */
export interface StoreEntry {
  readonly key: string;
  readonly value: Buffer;
  readonly version: number;
}

export interface PutOptions {
  /** Compare-and-set: 0 means "must not exist", n means "current version must be n". */
  readonly ifVersion?: number;
}

export interface ListOptions {
  /** Return keys strictly after this one (the `next` of the previous page). */
  readonly after?: string;
  /** Page size; backends cap it at MAX_LIST_LIMIT. */
  readonly limit?: number;
}

export interface ListPage {
  readonly entries: readonly StoreEntry[];
  /** Present when more entries may follow: pass it as `after`. */
  readonly next?: string;
}

export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;

export interface StoreReader {
  get(key: string): Promise<StoreEntry | undefined>;
  list(prefix: string, options?: ListOptions): Promise<ListPage>;
}

export interface StoreWriter extends StoreReader {
  /** Writes and returns the new version; throws StoreConflictError when ifVersion does not hold. */
  put(key: string, value: Uint8Array, options?: PutOptions): Promise<number>;
  /** Returns whether an entry was deleted; throws StoreConflictError when ifVersion does not hold. */
  delete(key: string, options?: PutOptions): Promise<boolean>;
}

/** One write of a write-only batch (batchWrite). */
export interface BatchWrite {
  readonly key: string;
  readonly value: Uint8Array;
  /** Compare-and-set as in PutOptions. */
  readonly ifVersion?: number;
}

/** Whether a store answers, as far as it knows without asking (for health checks and metrics). */
export interface StoreHealth {
  readonly reachable: boolean;
  /** Why not, when not reachable (no credentials in it). */
  readonly reason?: string;
  /** Since when it has been in this state (epoch ms). */
  readonly sinceMs: number;
}

/** Keys changed by a committed write, here or on another node; `all` when changes may have been missed. */
export type StoreChange = { readonly keys: readonly string[] } | { readonly all: true };

export interface Store extends StoreWriter {
  readonly kind: string;
  /**
   * Connects and migrates (backends that open synchronously omit it). Operations await it
   * themselves; the server calls it at start so a bad or newer schema stops the node early.
   */
  ready?(): Promise<void>;
  /**
   * Runs fn over one consistent, read-only view of the whole store (for backups and copies) while
   * others keep writing. Backends without it use transaction(), which is serialised.
   */
  snapshot?<T>(fn: (reader: StoreReader) => Promise<T>): Promise<T>;
  /** Runs fn atomically: every write inside commits together or not at all. */
  transaction<T>(fn: (tx: StoreWriter) => Promise<T>): Promise<T>;
  /**
   * Writes every op atomically (all or none) and returns the new versions, in order. Unlike
   * transaction(), nothing is read back, so a backend may run it off the event loop (SQLite does,
   * in a worker thread). Throws StoreConflictError when an ifVersion does not hold. Meant for
   * append-only data nobody caches (the audit log): its keys need not be announced to watchers.
   * Optional: writeBatch() falls back to transaction().
   */
  batchWrite?(ops: readonly BatchWrite[]): Promise<number[]>;
  /** Subscribes to committed changes (own and other processes'); returns an unsubscribe function. */
  watch(listener: (change: StoreChange) => void): () => void;
  /**
   * Whether the store answers, from state it already has (no round trip): a networked store
   * knows from its own calls and heartbeats. Absent: always reachable (local files, memory).
   */
  health?(): StoreHealth;
  close(): Promise<void>;
}

export class StoreConflictError extends Error {
  constructor(readonly key: string) {
    super(`compare-and-set failed for ${JSON.stringify(key)}`);
    this.name = 'StoreConflictError';
  }
}

/** The store cannot be reached or refused the write (down, read-only, full). */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

/** The store's schema was written by a newer Keyward than this one. */
export class StoreSchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreSchemaError';
  }
}

export function clampLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIST_LIMIT;
  return Math.max(1, Math.min(MAX_LIST_LIMIT, Math.floor(limit)));
}

/** The smallest string greater than every string that starts with prefix (for range scans). */
export function prefixEnd(prefix: string): string {
  return prefix + '\uffff';
}

/** A write-only batch: the store's batchWrite when it has one, else one transaction. */
export function writeBatch(store: Store, ops: readonly BatchWrite[]): Promise<number[]> {
  return store.batchWrite ? store.batchWrite(ops) : batchWriteInTransaction(store, ops);
}

/** batchWrite over transaction(): for backends whose writes do not block the event loop. */
export function batchWriteInTransaction(store: Pick<Store, 'transaction'>, ops: readonly BatchWrite[]): Promise<number[]> {
  return store.transaction(async (tx) => {
    const versions: number[] = [];
    for (const op of ops) versions.push(await tx.put(op.key, op.value, op.ifVersion === undefined ? undefined : { ifVersion: op.ifVersion }));
    return versions;
  });
}
