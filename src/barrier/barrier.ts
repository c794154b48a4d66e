import { randomBytes, zeroize } from '../crypto/index.js';
import { KeywardError } from '../errors/index.js';
import { openRecord, readRecordTerm, RecordIntegrityError, sealRecord } from '../format/index.js';
import {
  StoreConflictError, StoreUnavailableError, writeBatch, type ListOptions, type PutOptions, type Store, type StoreChange,
  type StoreWriter,
} from '../storage/index.js';
import { decodeKeyringRecord, encodeKeyringRecord, newKeyringRecord, type KeyringRecord } from './keyring-record.js';

export { StoreConflictError } from '../storage/index.js';
export type { StoreChange, PutOptions, ListOptions } from '../storage/index.js';

export const KEYRING_PATH = 'core/keyring';
/**
 * After a root-key rotation: the new root key sealed under the old one, so that other nodes on the
 * same store (which hold only the old root key) can follow at once. Deleted after a grace period,
 * since until then the old root key still leads to the new one.
 */
export const ROOT_SUCCESSOR_PATH = 'core/root-successor';
const DEFAULT_ROOT_SUCCESSOR_GRACE_MS = 60_000;
/** Paths under `core/seal` are stored in the clear: they are read before the barrier opens. */
export const SEAL_PATH_PREFIX = 'core/seal';
/** The keyring record is sealed directly under the root key, with this reserved term number. */
const ROOT_TERM = 0;

export interface BarrierEntry {
  readonly path: string;
  readonly value: Buffer;
  readonly version: number;
}

export interface BarrierPage {
  readonly entries: readonly BarrierEntry[];
  readonly next?: string;
}

export interface BarrierReader {
  get(path: string): Promise<BarrierEntry | undefined>;
  list(prefix: string, options?: ListOptions): Promise<BarrierPage>;
}

export interface BarrierWriter extends BarrierReader {
  put(path: string, value: Uint8Array, options?: PutOptions): Promise<number>;
  delete(path: string, options?: PutOptions): Promise<boolean>;
}

/**
 * Encrypts every record it stores (AES-256-GCM under the active term's key, path as AAD) and
 * holds the unlocked keyring in memory. Until unlock(), every read and write refuses (sealed).
 */
export interface BarrierOptions {
  /**
   * A term rotates automatically once this many encryptions were reserved under it. Below the
   * AES-GCM bound of 2^32 messages per key with random nonces (NIST SP 800-38D), as Vault does.
   */
  readonly rotateAfter?: number;
  /** Encryptions reserved (persisted) at a time; a crash forfeits at most one block per node. */
  readonly reserveBlock?: number;
  /** Records re-wrapped per batch, and a pause between batches (keeps the re-wrap in the background). */
  readonly rewrapBatch?: number;
  readonly rewrapPauseMs?: number;
  /** How long other nodes may follow a root-key rotation through the successor record. */
  readonly rootSuccessorGraceMs?: number;
  readonly now?: () => Date;
  /**
   * Another node re-wrapped the keyring under a root key this node does not hold (root rotation):
   * this node can no longer follow the keyring and should seal itself until unsealed again.
   */
  readonly onRootKeyReplaced?: () => void;
  /** Background failures (re-wrap, reservation); the work resumes at the next unseal. */
  readonly onError?: (e: unknown) => void;
}

export const DEFAULT_ROTATE_AFTER = 3_500_000_000;
const DEFAULT_RESERVE_BLOCK = 100_000;

export interface RewrapProgress {
  readonly running: boolean;
  /** Records examined and records moved to the active term in the current pass. */
  readonly scanned: number;
  readonly rewrapped: number;
  readonly startedAt?: string;
}

export interface BarrierStatus {
  readonly activeTerm: number;
  readonly terms: readonly number[];
  /** Encryptions reserved under the active term (all nodes) and the automatic rotation point. */
  readonly encryptions: number;
  readonly rotateAfter: number;
  readonly rewrap: RewrapProgress;
}

export class Barrier implements BarrierWriter {
  private rootKey: Buffer | undefined;
  private keyring: KeyringRecord | undefined;
  /** This node's reserved range of encryptions under `block.term`: [next, end). */
  private block = { term: 0, next: 0, end: 0 };
  private reserving: Promise<void> | undefined;
  private rewrapping: Promise<void> | undefined;
  private progress: { scanned: number; rewrapped: number; startedAt?: string } = { scanned: 0, rewrapped: 0 };
  /** Bumped on every lock: background work of an older generation stops. */
  private generation = 0;

  private refreshing: Promise<void> | undefined;

  constructor(readonly store: Store, private readonly options: BarrierOptions = {}) {
    // Other nodes change the keyring record (new barrier term, reservations, dropped terms, root
    // rotation): follow it, so records they write under a new term stay readable here.
    store.watch((change) => {
      if (!this.unlocked) return;
      if ('all' in change || change.keys.includes(KEYRING_PATH)) {
        this.refreshKeyring().catch((e: unknown) => {
          // the store being down is reported by the requests that need it
          if (!(e instanceof KeywardError && e.code === 'DependencyTimeoutException')) this.options.onError?.(e);
        });
      }
    });
  }

  /** Re-reads the keyring record and adopts its terms; concurrent calls share one read. */
  refreshKeyring(): Promise<void> {
    this.refreshing ??= this.refreshNow().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async refreshNow(): Promise<void> {
    const generation = this.generation;
    for (let attempt = 0; attempt < 3; attempt++) {
      const entry = await mapStoreErrors(() => this.store.get(KEYRING_PATH));
      const rootKey = this.rootKey;
      if (entry === undefined || rootKey === undefined || generation !== this.generation) return;
      let next: KeyringRecord | undefined;
      try {
        next = this.openKeyring(rootKey, entry.value);
      } catch (e) {
        if (!(e instanceof KeywardError) || e.code !== 'UnsealFailedException') throw e;
        // another node rotated the root key: follow it through the successor record
        next = await this.followRootSuccessor(rootKey, entry.value, generation);
      }
      if (next === undefined) {
        // this node's own root rotation may be finishing: look again before giving up
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      if (generation !== this.generation) return;
      const previousActive = this.keyring?.activeTerm;
      this.replaceKeyring(next);
      // another node rotated the barrier while this one holds a block under the old term: reserve
      // under the new term before the next write needs it (a node with no block reserves lazily)
      if (next.activeTerm !== previousActive && this.block.end > 0 && this.block.term !== next.activeTerm) {
        void this.reserve(false).catch((e: unknown) => this.options.onError?.(e));
      }
      // terms older than the active one remain: take part in moving their records
      if (next.terms.length > 1) this.resumeRewrap();
      return;
    }
    // the keyring is sealed under a root key this node cannot reach (the successor record is gone)
    if (generation === this.generation) this.options.onRootKeyReplaced?.();
  }

  /** Whether the record's barrier term is one this node holds (else the keyring may have moved on). */
  private knowsTermOf(path: string, sealed: Buffer): boolean {
    const keyring = this.keyring;
    if (keyring === undefined) return true;
    try {
      const term = readRecordTerm(path, sealed);
      return keyring.terms.some((t) => t.term === term);
    } catch {
      return true; // malformed: open() reports it
    }
  }

  /** Opens records, first following the keyring if one of them uses a term this node has not seen. */
  private async openAll<T extends { key: string; value: Buffer }>(entries: readonly T[]): Promise<void> {
    if (entries.some((e) => !this.knowsTermOf(e.key, e.value))) await this.refreshKeyring().catch(() => undefined);
  }

  private get rotateAfter(): number {
    return this.options.rotateAfter ?? DEFAULT_ROTATE_AFTER;
  }

  private get reserveBlock(): number {
    return Math.max(1, Math.min(this.options.reserveBlock ?? DEFAULT_RESERVE_BLOCK, this.rotateAfter));
  }

  get unlocked(): boolean {
    return this.keyring !== undefined;
  }

  /**
   * Creates a new installation in one transaction: the seal layer's plain records, the keyring
   * record and whatever `seed` writes through the barrier (the first tenant and admin), so an
   * installation exists completely or not at all. Fails with AlreadyInitializedException if
   * another process initialised first. Leaves the barrier unlocked.
   */
  async initialize(rootKey: Buffer, now: Date, plain: ReadonlyMap<string, Buffer>, seed: (tx: BarrierWriter) => Promise<void>): Promise<void> {
    const record = newKeyringRecord(now, this.reserveBlock);
    const sealedKeyring = this.sealKeyring(rootKey, record);
    this.adopt(rootKey, record);
    this.block = { term: record.activeTerm, next: 0, end: this.reserveBlock };
    try {
      await mapStoreErrors(() => this.store.transaction(async (tx) => {
        for (const [path, value] of plain) {
          checkPlainPath(path);
          await tx.put(path, value, { ifVersion: 0 });
        }
        await tx.put(KEYRING_PATH, sealedKeyring, { ifVersion: 0 });
        await seed(this.writerOver(tx));
      }));
    } catch (e) {
      this.lock();
      if (e instanceof StoreConflictError) throw new KeywardError('AlreadyInitializedException', 'Keyward is already initialized.');
      throw e;
    }
  }

  /** Opens the keyring record with the root key; throws UnsealFailedException if it does not open. */
  async unlock(rootKey: Buffer): Promise<void> {
    const record = await this.readKeyring(rootKey);
    this.adopt(rootKey, record);
    try {
      await this.reserve(false);
    } catch (e) {
      this.lock();
      throw e;
    }
    // a rotation interrupted by a crash or a seal resumes here
    this.resumeRewrap();
  }

  /** Adds a barrier term (new records use it) and starts moving older records to it. */
  async rotate(): Promise<BarrierStatus> {
    this.requireKeyring();
    await this.reserve(true);
    this.resumeRewrap();
    return this.status();
  }

  status(): BarrierStatus {
    const keyring = this.requireKeyring();
    const active = keyring.terms.find((t) => t.term === keyring.activeTerm);
    return {
      activeTerm: keyring.activeTerm,
      terms: keyring.terms.map((t) => t.term),
      encryptions: active?.encryptions ?? 0,
      rotateAfter: this.rotateAfter,
      rewrap: { running: this.rewrapping !== undefined, ...this.progress },
    };
  }

  /** Resolves when no re-wrap is running (tests and `rotate-barrier --wait`). */
  async rewrapIdle(): Promise<void> {
    while (this.rewrapping !== undefined) await this.rewrapping;
  }

  /**
   * Reserves the next block of encryptions in the keyring record (compare-and-set, so nodes never
   * share a range). When the active term would pass `rotateAfter`, or `rotate` is asked, a new
   * term becomes active instead.
   */
  private reserve(rotate: boolean): Promise<void> {
    if (!rotate && this.reserving !== undefined) return this.reserving;
    const previous = this.reserving ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.reserveNow(rotate));
    const tracked = run.finally(() => {
      if (this.reserving === tracked) this.reserving = undefined;
    });
    this.reserving = tracked;
    return tracked;
  }

  private async reserveNow(rotate: boolean): Promise<void> {
    const generation = this.generation;
    for (let attempt = 0; ; attempt++) {
      if (this.rootKey === undefined || generation !== this.generation) throw new KeywardError('SealedException', 'Keyward is sealed.');
      const entry = await mapStoreErrors(() => this.store.get(KEYRING_PATH));
      if (entry === undefined) throw new KeywardError('NotInitializedException', 'Keyward is not initialized.');
      const current = await this.openFollowing(entry.value, generation);
      const rootKey = this.rootKey;
      if (rootKey === undefined || generation !== this.generation) throw new KeywardError('SealedException', 'Keyward is sealed.');
      const active = current.terms.find((t) => t.term === current.activeTerm);
      if (active === undefined) throw new KeywardError('IntegrityException', 'The keyring record has no active barrier term.');
      const block = this.reserveBlock;
      let next: KeyringRecord;
      let range: { term: number; next: number; end: number };
      if (rotate || active.encryptions + block > this.rotateAfter) {
        const term = Math.max(...current.terms.map((t) => t.term)) + 1;
        const fresh = { term, key: randomBytes(32), createdAt: (this.options.now?.() ?? new Date()).toISOString(), encryptions: block };
        next = { ...current, terms: [...current.terms, fresh], activeTerm: term };
        range = { term, next: 0, end: block };
      } else {
        next = { ...current, terms: current.terms.map((t) => (t === active ? { ...t, encryptions: t.encryptions + block } : t)) };
        range = { term: active.term, next: active.encryptions, end: active.encryptions + block };
      }
      try {
        await mapStoreErrors(() => this.store.put(KEYRING_PATH, this.sealKeyring(rootKey, next), { ifVersion: entry.version }));
      } catch (e) {
        if (e instanceof StoreConflictError && attempt < 10) continue; // another node reserved first
        throw e;
      }
      if (generation !== this.generation) return;
      this.replaceKeyring(next);
      this.block = range;
      if (next.terms.length > 1) this.resumeRewrap();
      return;
    }
  }

  /** Counts one encryption under the active term; asks for the next block before this one runs out. */
  private takeEncryption(term: number): void {
    if (this.block.term !== term || this.block.next >= this.block.end) {
      void this.reserve(false).catch((e: unknown) => this.options.onError?.(e));
      throw new KeywardError('ThrottlingException', 'The barrier is reserving encryptions for its key (or rotating it); retry the request.');
    }
    this.block.next++;
    if (this.block.end - this.block.next === Math.floor(this.reserveBlock / 2)) {
      void this.reserve(false).catch((e: unknown) => this.options.onError?.(e));
    }
  }

  private resumeRewrap(): void {
    const keyring = this.keyring;
    if (keyring === undefined || keyring.terms.length < 2 || this.rewrapping !== undefined) return;
    const generation = this.generation;
    this.progress = { scanned: 0, rewrapped: 0, startedAt: (this.options.now?.() ?? new Date()).toISOString() };
    const run = this.rewrapAll(generation)
      .catch((e: unknown) => {
        if (generation === this.generation) this.options.onError?.(e);
      })
      .finally(() => {
        if (this.rewrapping === run) this.rewrapping = undefined;
      });
    this.rewrapping = run;
  }

  /**
   * Moves every record sealed under an older term to the active one (each in its own
   * compare-and-set transaction, so a crash or a concurrent write loses nothing), then drops the
   * older terms from the keyring. Records that are not barrier records are left alone.
   */
  private async rewrapAll(generation: number): Promise<void> {
    // passes until one finds every record on the term that was active when it began; only terms
    // older than that one are dropped (a rotation during a pass keeps the newer terms)
    for (;;) {
      if (generation !== this.generation) return;
      const active = this.requireKeyring().activeTerm;
      const moved = await this.rewrapPass(generation);
      if (generation !== this.generation) return;
      if (moved === 0 && this.requireKeyring().activeTerm === active) {
        await this.dropTermsBefore(active, generation);
        return;
      }
    }
  }

  /** One scan of the store; answers how many records it moved to the active term. */
  private async rewrapPass(generation: number): Promise<number> {
    const batch = this.options.rewrapBatch ?? 100;
    let after: string | undefined;
    let movedInPass = 0;
    do {
      if (generation !== this.generation) return movedInPass;
      const page = await mapStoreErrors(() => this.store.list('', { limit: batch, ...(after !== undefined ? { after } : {}) }));
      for (const e of page.entries) {
        if (generation !== this.generation) return movedInPass;
        this.progress.scanned++;
        if (isReserved(e.key) || !this.isStale(e.key, e.value)) continue;
        const moved = await mapStoreErrors(() => this.store.transaction(async (tx) => {
          const cur = await tx.get(e.key);
          if (cur === undefined || !this.isStale(e.key, cur.value)) return false;
          await tx.put(e.key, this.seal(e.key, this.open(e.key, cur.value)), { ifVersion: cur.version });
          return true;
        }));
        if (moved) {
          this.progress.rewrapped++;
          movedInPass++;
        }
      }
      after = page.next;
      // yield to requests between batches (a synchronous store would otherwise starve the event loop)
      await new Promise((r) => (this.options.rewrapPauseMs ? setTimeout(r, this.options.rewrapPauseMs) : setImmediate(r)));
    } while (after !== undefined);
    return movedInPass;
  }

  private isStale(path: string, value: Buffer): boolean {
    const keyring = this.requireKeyring();
    try {
      return readRecordTerm(path, value) !== keyring.activeTerm;
    } catch {
      return false; // not a barrier record
    }
  }

  private async dropTermsBefore(keepFrom: number, generation: number): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      if (this.rootKey === undefined || generation !== this.generation) return;
      const entry = await mapStoreErrors(() => this.store.get(KEYRING_PATH));
      if (entry === undefined) return;
      const current = await this.openFollowing(entry.value, generation);
      const rootKey = this.rootKey;
      if (rootKey === undefined || generation !== this.generation) return;
      const next: KeyringRecord = { ...current, terms: current.terms.filter((t) => t.term >= keepFrom) };
      try {
        await mapStoreErrors(() => this.store.put(KEYRING_PATH, this.sealKeyring(rootKey, next), { ifVersion: entry.version }));
      } catch (e) {
        if (e instanceof StoreConflictError) continue;
        throw e;
      }
      if (generation === this.generation) this.replaceKeyring(next);
      return;
    }
  }

  /**
   * Adopts a newer keyring record. Key buffers already handed out (tenant derivation and audit
   * keys, term keys) stay the same objects; keys of dropped terms are zeroed.
   */
  private replaceKeyring(next: KeyringRecord): void {
    const old = this.keyring;
    if (old === undefined) {
      this.keyring = next;
      return;
    }
    const terms = next.terms.map((t) => {
      const kept = old.terms.find((o) => o.term === t.term);
      if (kept === undefined || kept.key === t.key) return t;
      zeroize(t.key);
      return { ...t, key: kept.key };
    });
    for (const o of old.terms) if (!next.terms.some((t) => t.term === o.term)) zeroize(o.key);
    if (next.tenantDerivationKey !== old.tenantDerivationKey) zeroize(next.tenantDerivationKey);
    if (next.auditKey !== old.auditKey) zeroize(next.auditKey);
    this.keyring = { ...next, terms, tenantDerivationKey: old.tenantDerivationKey, auditKey: old.auditKey };
  }

  /** Runs fn with a copy of the root key (zeroed afterwards): the seal layer re-wraps it on rekey. */
  async withRootKey<T>(fn: (rootKey: Buffer) => Promise<T>): Promise<T> {
    this.requireKeyring();
    const copy = Buffer.from(this.rootKey!);
    try {
      return await fn(copy);
    } finally {
      zeroize(copy);
    }
  }

  /**
   * Replaces the root key: the keyring record is re-read, sealed under `newRootKey` and written in
   * one transaction with the seal layer's plain records (the new wrapped root key), so a crash
   * leaves either the old pair or the new one. `ifVersion` are compare-and-set versions.
   */
  async replaceRootKey(newRootKey: Buffer, plain: ReadonlyMap<string, { value: Buffer; ifVersion: number }>): Promise<void> {
    const rootKey = this.rootKey;
    let successorVersion = 0;
    this.requireKeyring();
    await mapStoreErrors(() => this.store.transaction(async (tx) => {
      const current = await tx.get(KEYRING_PATH);
      if (current === undefined) throw new KeywardError('NotInitializedException', 'Keyward is not initialized.');
      const record = this.openKeyring(rootKey!, current.value);
      const sealedKeyring = this.sealKeyring(newRootKey, record);
      for (const t of record.terms) zeroize(t.key);
      zeroize(record.tenantDerivationKey, record.auditKey);
      for (const [path, { value, ifVersion }] of plain) {
        checkPlainPath(path);
        await tx.put(path, value, { ifVersion });
      }
      await tx.put(KEYRING_PATH, sealedKeyring, { ifVersion: current.version });
      const successor = await tx.get(ROOT_SUCCESSOR_PATH);
      successorVersion = await tx.put(ROOT_SUCCESSOR_PATH, sealRecord(ROOT_SUCCESSOR_PATH, ROOT_TERM, rootKey!, newRootKey), { ifVersion: successor?.version ?? 0 });
    }));
    zeroize(this.rootKey);
    this.rootKey = Buffer.from(newRootKey);
    const grace = this.options.rootSuccessorGraceMs ?? DEFAULT_ROOT_SUCCESSOR_GRACE_MS;
    setTimeout(() => {
      // only this rotation's record: a later rotation wrote a newer version (and its own timer)
      this.store.delete(ROOT_SUCCESSOR_PATH, { ifVersion: successorVersion }).catch((e: unknown) => {
        if (!(e instanceof StoreConflictError)) this.options.onError?.(e);
      });
    }, grace).unref();
  }

  /** Forgets every key (best-effort zeroed). */
  lock(): void {
    if (this.keyring) {
      for (const t of this.keyring.terms) zeroize(t.key);
      zeroize(this.keyring.tenantDerivationKey, this.keyring.auditKey);
    }
    zeroize(this.rootKey);
    this.keyring = undefined;
    this.rootKey = undefined;
    this.block = { term: 0, next: 0, end: 0 };
    this.generation++;
  }

  tenantDerivationKey(): Buffer {
    return this.requireKeyring().tenantDerivationKey;
  }

  auditKey(): Buffer {
    return this.requireKeyring().auditKey;
  }

  async get(path: string): Promise<BarrierEntry | undefined> {
    const entry = await mapStoreErrors(() => this.store.get(path));
    if (entry === undefined) return undefined;
    await this.openAll([entry]);
    return { path, value: this.open(path, entry.value), version: entry.version };
  }

  async list(prefix: string, options?: ListOptions): Promise<BarrierPage> {
    const page = await mapStoreErrors(() => this.store.list(prefix, options));
    await this.openAll(page.entries);
    return listThrough(this, page);
  }

  async put(path: string, value: Uint8Array, options?: PutOptions): Promise<number> {
    const sealed = this.seal(path, value);
    return mapStoreErrors(() => this.store.put(path, sealed, options));
  }

  async delete(path: string, options?: PutOptions): Promise<boolean> {
    this.requireKeyring();
    return mapStoreErrors(() => this.store.delete(path, options));
  }

  /**
   * Writes new records in one write-only batch (Store.batchWrite: on SQLite its commit and fsync
   * run in a worker thread, off the event loop). All or none; StoreConflictError when an
   * ifVersion does not hold. Like batchWrite, the paths are not announced to watchers: only for
   * records no cache holds (certificate records).
   */
  async writeBatch(records: ReadonlyArray<{ readonly path: string; readonly value: Uint8Array; readonly ifVersion?: number }>): Promise<number[]> {
    const ops = records.map((r) => ({ key: r.path, value: this.seal(r.path, r.value), ...(r.ifVersion !== undefined ? { ifVersion: r.ifVersion } : {}) }));
    return mapStoreErrors(() => writeBatch(this.store, ops));
  }

  /** Runs fn in one store transaction; StoreConflictError from a CAS escapes for the caller to retry. */
  async transaction<T>(fn: (tx: BarrierWriter) => Promise<T>): Promise<T> {
    this.requireKeyring();
    return mapStoreErrors(() => this.store.transaction(async (stx) => fn(this.writerOver(stx))));
  }

  watch(listener: (change: StoreChange) => void): () => void {
    return this.store.watch(listener);
  }

  /** Plain (unencrypted) records of the seal layer, readable while sealed. */
  async getPlain(path: string): Promise<BarrierEntry | undefined> {
    checkPlainPath(path);
    const entry = await mapStoreErrors(() => this.store.get(path));
    return entry === undefined ? undefined : { path, value: entry.value, version: entry.version };
  }

  async putPlain(path: string, value: Uint8Array, options?: PutOptions): Promise<number> {
    checkPlainPath(path);
    return mapStoreErrors(() => this.store.put(path, value, options));
  }

  /** Whether this store holds a keyring (an installation exists), readable while sealed. */
  async hasKeyring(): Promise<boolean> {
    return (await mapStoreErrors(() => this.store.get(KEYRING_PATH))) !== undefined;
  }

  open(path: string, sealed: Buffer): Buffer {
    const keyring = this.requireKeyring();
    try {
      const term = readRecordTerm(path, sealed);
      const t = keyring.terms.find((x) => x.term === term);
      if (t === undefined) throw new RecordIntegrityError(path, `unknown barrier term ${term}`);
      return openRecord(path, t.key, sealed);
    } catch (e) {
      if (e instanceof RecordIntegrityError) throw new KeywardError('IntegrityException', e.message, { cause: e });
      throw e;
    }
  }

  private seal(path: string, value: Uint8Array): Buffer {
    if (isReserved(path)) throw new Error(`reserved path ${path}`);
    const keyring = this.requireKeyring();
    const term = keyring.terms.find((t) => t.term === keyring.activeTerm);
    if (term === undefined) throw new Error('active barrier term missing from keyring');
    this.takeEncryption(term.term);
    return sealRecord(path, term.term, term.key, value);
  }

  private writerOver(stx: StoreWriter): BarrierWriter {
    return {
      get: async (path) => {
        const e = await stx.get(path);
        if (e === undefined) return undefined;
        await this.openAll([e]);
        return { path, value: this.open(path, e.value), version: e.version };
      },
      list: async (prefix, options) => {
        const page = await stx.list(prefix, options);
        await this.openAll(page.entries);
        return listThrough(this, page);
      },
      put: (path, value, options) => stx.put(path, this.seal(path, value), options),
      delete: (path, options) => stx.delete(path, options),
    };
  }

  private requireKeyring(): KeyringRecord {
    if (this.keyring === undefined) throw new KeywardError('SealedException', 'Keyward is sealed.');
    return this.keyring;
  }

  private adopt(rootKey: Buffer, record: KeyringRecord): void {
    this.lock();
    this.rootKey = Buffer.from(rootKey);
    this.keyring = record;
  }

  /**
   * Opens the successor record with this node's (old) root key; if the new root key it holds
   * opens the keyring, adopts that root key and returns the keyring. Undefined if it does not.
   */
  private async followRootSuccessor(rootKey: Buffer, sealedKeyring: Buffer, generation: number): Promise<KeyringRecord | undefined> {
    const entry = await mapStoreErrors(() => this.store.get(ROOT_SUCCESSOR_PATH));
    if (entry === undefined) return undefined;
    let next: Buffer;
    try {
      next = openRecord(ROOT_SUCCESSOR_PATH, rootKey, entry.value);
    } catch {
      return undefined; // a successor of another root key (this node missed a rotation)
    }
    try {
      const record = this.openKeyring(next, sealedKeyring);
      if (generation !== this.generation) return undefined;
      zeroize(this.rootKey);
      this.rootKey = Buffer.from(next);
      return record;
    } catch {
      return undefined;
    } finally {
      zeroize(next);
    }
  }

  /**
   * Opens the stored keyring to change it: a node that has not yet followed another node's root
   * rotation (its change notification still on the way) follows it here first, instead of failing
   * the write.
   */
  private async openFollowing(sealedKeyring: Buffer, generation: number): Promise<KeyringRecord> {
    const rootKey = this.rootKey;
    if (rootKey === undefined) throw new KeywardError('SealedException', 'Keyward is sealed.');
    try {
      return this.openKeyring(rootKey, sealedKeyring);
    } catch (e) {
      if (!(e instanceof KeywardError) || e.code !== 'UnsealFailedException') throw e;
      const followed = await this.followRootSuccessor(rootKey, sealedKeyring, generation);
      if (followed === undefined) throw e;
      return followed;
    }
  }

  private async readKeyring(rootKey: Buffer): Promise<KeyringRecord> {
    const entry = await mapStoreErrors(() => this.store.get(KEYRING_PATH));
    if (entry === undefined) throw new KeywardError('NotInitializedException', 'Keyward is not initialized.');
    return this.openKeyring(rootKey, entry.value);
  }

  private openKeyring(rootKey: Buffer, sealed: Buffer): KeyringRecord {
    let plain: Buffer;
    try {
      plain = openRecord(KEYRING_PATH, rootKey, sealed);
    } catch {
      throw new KeywardError('UnsealFailedException', 'The root key does not open the keyring.');
    }
    try {
      return decodeKeyringRecord(plain);
    } finally {
      zeroize(plain);
    }
  }

  private sealKeyring(rootKey: Buffer, record: KeyringRecord): Buffer {
    const plain = encodeKeyringRecord(record);
    try {
      return sealRecord(KEYRING_PATH, ROOT_TERM, rootKey, plain);
    } finally {
      zeroize(plain);
    }
  }
}

function listThrough(barrier: Barrier, page: { entries: readonly { key: string; value: Buffer; version: number }[]; next?: string }): BarrierPage {
  const entries = page.entries.map((e) => ({ path: e.key, value: barrier.open(e.key, e.value), version: e.version }));
  return page.next === undefined ? { entries } : { entries, next: page.next };
}

function isReserved(path: string): boolean {
  return path === KEYRING_PATH || path === ROOT_SUCCESSOR_PATH || path.startsWith(SEAL_PATH_PREFIX);
}

function checkPlainPath(path: string): void {
  if (!path.startsWith(SEAL_PATH_PREFIX)) throw new Error(`${path} is not a plain (seal) path`);
}

async function mapStoreErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof StoreUnavailableError) {
      throw new KeywardError('DependencyTimeoutException', 'The key store is unavailable; the request was not applied.', { cause: e });
    }
    throw e;
  }
}
