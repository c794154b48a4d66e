import { zeroize } from '../crypto/index.js';
import { KeywardError } from '../errors/index.js';
import { openRecord, readRecordTerm, RecordIntegrityError, sealRecord } from '../format/index.js';
import {
  StoreConflictError, StoreUnavailableError, type ListOptions, type PutOptions, type Store, type StoreChange,
  type StoreWriter,
} from '../storage/index.js';
import { decodeKeyringRecord, encodeKeyringRecord, newKeyringRecord, type KeyringRecord } from './keyring-record.js';

export { StoreConflictError } from '../storage/index.js';
export type { StoreChange, PutOptions, ListOptions } from '../storage/index.js';

export const KEYRING_PATH = 'core/keyring';
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
export class Barrier implements BarrierWriter {
  private rootKey: Buffer | undefined;
  private keyring: KeyringRecord | undefined;

  constructor(readonly store: Store) {}

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
    const record = newKeyringRecord(now);
    const sealedKeyring = this.sealKeyring(rootKey, record);
    this.adopt(rootKey, record);
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
   * Replaces the root key: the keyring record is sealed under `newRootKey` and written in one
   * transaction with the seal layer's plain records (the new wrapped root key), so a crash leaves
   * either the old pair or the new one. `plainVersions` are compare-and-set versions.
   */
  async replaceRootKey(newRootKey: Buffer, plain: ReadonlyMap<string, { value: Buffer; ifVersion: number }>): Promise<void> {
    const record = this.requireKeyring();
    const sealedKeyring = this.sealKeyring(newRootKey, record);
    await mapStoreErrors(() => this.store.transaction(async (tx) => {
      const current = await tx.get(KEYRING_PATH);
      if (current === undefined) throw new KeywardError('NotInitializedException', 'Keyward is not initialized.');
      for (const [path, { value, ifVersion }] of plain) {
        checkPlainPath(path);
        await tx.put(path, value, { ifVersion });
      }
      await tx.put(KEYRING_PATH, sealedKeyring, { ifVersion: current.version });
    }));
    zeroize(this.rootKey);
    this.rootKey = Buffer.from(newRootKey);
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
  }

  tenantDerivationKey(): Buffer {
    return this.requireKeyring().tenantDerivationKey;
  }

  auditKey(): Buffer {
    return this.requireKeyring().auditKey;
  }

  async get(path: string): Promise<BarrierEntry | undefined> {
    const entry = await mapStoreErrors(() => this.store.get(path));
    return entry === undefined ? undefined : { path, value: this.open(path, entry.value), version: entry.version };
  }

  async list(prefix: string, options?: ListOptions): Promise<BarrierPage> {
    return listThrough(this, await mapStoreErrors(() => this.store.list(prefix, options)));
  }

  async put(path: string, value: Uint8Array, options?: PutOptions): Promise<number> {
    const sealed = this.seal(path, value);
    return mapStoreErrors(() => this.store.put(path, sealed, options));
  }

  async delete(path: string, options?: PutOptions): Promise<boolean> {
    this.requireKeyring();
    return mapStoreErrors(() => this.store.delete(path, options));
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
    if (path === KEYRING_PATH || path.startsWith(SEAL_PATH_PREFIX)) throw new Error(`reserved path ${path}`);
    const keyring = this.requireKeyring();
    const term = keyring.terms.find((t) => t.term === keyring.activeTerm);
    if (term === undefined) throw new Error('active barrier term missing from keyring');
    return sealRecord(path, term.term, term.key, value);
  }

  private writerOver(stx: StoreWriter): BarrierWriter {
    return {
      get: async (path) => {
        const e = await stx.get(path);
        return e === undefined ? undefined : { path, value: this.open(path, e.value), version: e.version };
      },
      list: async (prefix, options) => listThrough(this, await stx.list(prefix, options)),
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

  private async readKeyring(rootKey: Buffer): Promise<KeyringRecord> {
    const entry = await mapStoreErrors(() => this.store.get(KEYRING_PATH));
    if (entry === undefined) throw new KeywardError('NotInitializedException', 'Keyward is not initialized.');
    let plain: Buffer;
    try {
      plain = openRecord(KEYRING_PATH, rootKey, entry.value);
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
