import { zeroize } from '../crypto/zeroize.js';

/**
 * Limits on how long one data key may be reused for encryption. The defaults are safe for
 * AES-256-GCM with random 96-bit nonces: 2^16 messages per key is 2^16 times below the NIST
 * SP 800-38D limit of 2^32, so the nonce-collision probability stays under 2^-65.
 */
export interface DataKeyCacheLimits {
  /** Milliseconds a data key may be used after it was generated (default 5 minutes). */
  readonly maxAgeMs?: number;
  /** Messages (envelopes or streams) per data key (default 65,536 = 2^16). */
  readonly maxMessages?: number;
  /** Plaintext bytes encrypted directly under one data key (default 2^32 = 4 GiB). */
  readonly maxBytes?: number;
  /** Distinct partitions (key id + context) and decryption entries kept (default 1,000 each). */
  readonly maxEntries?: number;
}

export const DEFAULT_CACHE_LIMITS: Required<DataKeyCacheLimits> = {
  maxAgeMs: 5 * 60_000,
  maxMessages: 2 ** 16,
  maxBytes: 2 ** 32,
  maxEntries: 1000,
};

/** GCM's hard ceiling for random nonces; no configuration may exceed it. */
const GCM_RANDOM_NONCE_LIMIT = 2 ** 32;

export interface CacheStats {
  encryptHits: number;
  encryptMisses: number;
  decryptHits: number;
  decryptMisses: number;
  /** Calls this client made to the KMS (GenerateDataKey and Decrypt). */
  kmsCalls: number;
}

/** A cached key; zeroized once it is retired and no lease holds it any more. */
export interface CachedKey {
  readonly key: Buffer;
  readonly createdAt: number;
  /** Leases handed out and not yet released. */
  refs: number;
  retired: boolean;
}

interface EncryptEntry extends CachedKey {
  readonly encodedSource: Buffer;
  messages: number;
  bytes: number;
}

type DecryptEntry = CachedKey;

export function resolveLimits(limits: DataKeyCacheLimits | undefined): Required<DataKeyCacheLimits> {
  const l = { ...DEFAULT_CACHE_LIMITS, ...limits };
  for (const [name, v] of Object.entries(l)) {
    if (!Number.isFinite(v) || v <= 0) throw new RangeError(`cache ${name} must be a positive number`);
  }
  if (l.maxMessages > GCM_RANDOM_NONCE_LIMIT) throw new RangeError(`cache maxMessages must be at most 2^32 (AES-GCM random-nonce limit)`);
  return l;
}

/**
 * Both caches of an envelope client: data keys for encryption, partitioned by KMS key and
 * encryption context and retired by age, messages or bytes; unwrapped data keys for decryption,
 * keyed by the wrapped key and the context it must be opened with. Retired keys are zeroized.
 */
export class DataKeyCache {
  readonly limits: Required<DataKeyCacheLimits>;
  readonly stats: CacheStats = { encryptHits: 0, encryptMisses: 0, decryptHits: 0, decryptMisses: 0, kmsCalls: 0 };
  private readonly encrypting = new Map<string, EncryptEntry>();
  private readonly decrypting = new Map<string, DecryptEntry>();

  constructor(limits?: DataKeyCacheLimits, private readonly now: () => number = Date.now) {
    this.limits = resolveLimits(limits);
  }

  /**
   * A cached key for this partition with room for one more message of `bytes`, counted as used
   * and leased (call release() when done with it).
   */
  takeForEncryption(partition: string, bytes: number): EncryptEntry | undefined {
    const e = this.encrypting.get(partition);
    if (e === undefined) return undefined;
    if (this.now() - e.createdAt >= this.limits.maxAgeMs || e.messages >= this.limits.maxMessages || e.bytes + bytes > this.limits.maxBytes) {
      this.retire(this.encrypting, partition, e);
      return undefined;
    }
    e.messages++;
    e.bytes += bytes;
    e.refs++;
    return e;
  }

  /**
   * Caches a fresh key already used once for `bytes`; returns its leased entry, or undefined when
   * the key may not be reused at all (the caller then owns and zeroizes it).
   */
  putForEncryption(partition: string, key: Buffer, encodedSource: Buffer, bytes: number): CachedKey | undefined {
    if (bytes > this.limits.maxBytes || this.limits.maxMessages <= 1) return undefined;
    const old = this.encrypting.get(partition);
    if (old !== undefined) this.retire(this.encrypting, partition, old);
    this.evictOldest(this.encrypting);
    const e: EncryptEntry = { key, encodedSource, createdAt: this.now(), messages: 1, bytes, refs: 1, retired: false };
    this.encrypting.set(partition, e);
    return e;
  }

  /** A leased decryption key (call release() when done with it). */
  takeForDecryption(id: string): CachedKey | undefined {
    const e = this.decrypting.get(id);
    if (e === undefined) return undefined;
    if (this.now() - e.createdAt >= this.limits.maxAgeMs) {
      this.retire(this.decrypting, id, e);
      return undefined;
    }
    e.refs++;
    return e;
  }

  /** Caches an unwrapped key; returns its leased entry. */
  putForDecryption(id: string, key: Buffer): CachedKey {
    const old = this.decrypting.get(id);
    if (old !== undefined) this.retire(this.decrypting, id, old);
    this.evictOldest(this.decrypting);
    const e: DecryptEntry = { key, createdAt: this.now(), refs: 1, retired: false };
    this.decrypting.set(id, e);
    return e;
  }

  release(e: CachedKey): void {
    e.refs--;
    if (e.retired && e.refs <= 0) zeroize(e.key);
  }

  /** Retires every cached key (zeroized now, or when its last lease is released). */
  clear(): void {
    for (const [k, e] of this.encrypting) this.retire(this.encrypting, k, e);
    for (const [k, e] of this.decrypting) this.retire(this.decrypting, k, e);
  }

  /** Entries currently cached for encryption and decryption. */
  get size(): { encrypt: number; decrypt: number } {
    return { encrypt: this.encrypting.size, decrypt: this.decrypting.size };
  }

  private retire(map: Map<string, CachedKey>, id: string, e: CachedKey): void {
    map.delete(id);
    e.retired = true;
    if (e.refs <= 0) zeroize(e.key);
  }

  private evictOldest(map: Map<string, CachedKey>): void {
    while (map.size >= this.limits.maxEntries) {
      const first = map.entries().next();
      if (first.done === true) return;
      this.retire(map, first.value[0], first.value[1]);
    }
  }
}
