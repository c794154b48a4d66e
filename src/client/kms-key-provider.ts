import { zeroize } from '../crypto/zeroize.js';
import { encodeKeySource, type KeySource } from '../format/envelope.js';
import { DataKeyCache, type CacheStats, type CachedKey, type DataKeyCacheLimits } from './data-key-cache.js';
import { InvalidCiphertextError, KeywardApiError, KeywardUsageError } from './errors.js';
import type { DataKeyLease, EncryptionKeyRequest, KeyProvider } from './key-provider.js';
import type { EncryptionContext, KeywardClient } from './keyward-client.js';

export interface KmsKeyProviderOptions {
  /** Data-key caching: limits (defaults: DEFAULT_CACHE_LIMITS), or false for a KMS call per message. */
  readonly cache?: DataKeyCacheLimits | false;
  /** Milliseconds clock for the cache's age limit (default Date.now; tests move it). */
  readonly now?: () => number;
}

/**
 * Data keys from Keyward (or any AWS-KMS-compatible server): GenerateDataKey to encrypt, Decrypt
 * to open, both with the envelope's encryption context so the KMS enforces it too. With the cache
 * (the default), one data key serves many messages within the limits.
 */
export class KmsKeyProvider implements KeyProvider {
  private readonly cache: DataKeyCache | undefined;
  private readonly uncachedStats: CacheStats = { encryptHits: 0, encryptMisses: 0, decryptHits: 0, decryptMisses: 0, kmsCalls: 0 };
  /** One GenerateDataKey in flight per partition, however many callers miss at once. */
  private readonly pending = new Map<string, Promise<unknown>>();

  constructor(private readonly client: KeywardClient, options: KmsKeyProviderOptions = {}) {
    this.cache = options.cache === false ? undefined : new DataKeyCache(options.cache, options.now ?? Date.now);
  }

  get stats(): Readonly<CacheStats> {
    return { ...(this.cache?.stats ?? this.uncachedStats) };
  }

  cachedEncryptionKey(req: EncryptionKeyRequest): DataKeyLease | undefined {
    if (this.cache === undefined || req.keyId === undefined || req.keyId === '') return undefined;
    const hit = this.cache.takeForEncryption(partitionOf(req), req.bytes);
    if (hit === undefined) return undefined;
    this.cache.stats.encryptHits++;
    return this.leaseOf(hit, hit.encodedSource);
  }

  async encryptionKey(req: EncryptionKeyRequest): Promise<DataKeyLease> {
    if (req.keyId === undefined || req.keyId === '') throw new KeywardUsageError('keyId is required to encrypt');
    const stats = this.cache?.stats ?? this.uncachedStats;
    if (this.cache === undefined) {
      stats.encryptMisses++;
      return this.generate(req, stats);
    }
    const partition = partitionOf(req);
    for (;;) {
      const hit = this.cache.takeForEncryption(partition, req.bytes);
      if (hit !== undefined) {
        stats.encryptHits++;
        return this.leaseOf(hit, hit.encodedSource);
      }
      const inFlight = this.pending.get(partition);
      if (inFlight === undefined) break;
      await inFlight.catch(() => undefined);
    }
    stats.encryptMisses++;
    const fresh = this.generate(req, stats);
    this.pending.set(partition, fresh);
    try {
      const lease = await fresh;
      const entry = this.cache.putForEncryption(partition, lease.key, lease.encodedSource, req.bytes);
      return entry === undefined ? lease : this.leaseOf(entry, lease.encodedSource);
    } finally {
      this.pending.delete(partition);
    }
  }

  async decryptionKey(source: KeySource, context: EncryptionContext | undefined, canonicalContext: Buffer): Promise<DataKeyLease> {
    if (source.kind !== 'kms') throw new InvalidCiphertextError();
    const stats = this.cache?.stats ?? this.uncachedStats;
    // the context is part of the id: a cached key must never skip the KMS's context check
    const id = `${source.wrappedKey.toString('latin1')}\u0000${canonicalContext.toString('latin1')}`;
    const hit = this.cache?.takeForDecryption(id);
    if (hit !== undefined) {
      stats.decryptHits++;
      return this.leaseOf(hit, Buffer.alloc(0));
    }
    stats.decryptMisses++;
    stats.kmsCalls++;
    let key: Buffer;
    try {
      key = (await this.client.decrypt({ ciphertextBlob: source.wrappedKey, ...(context !== undefined ? { context } : {}) })).plaintext;
    } catch (e) {
      if (e instanceof KeywardApiError && (e.code === 'InvalidCiphertextException' || e.code === 'IncorrectKeyException')) throw new InvalidCiphertextError();
      throw e;
    }
    if (key.length !== 32) {
      zeroize(key);
      throw new InvalidCiphertextError();
    }
    if (this.cache === undefined) return { key, encodedSource: Buffer.alloc(0), done: () => zeroize(key) };
    return this.leaseOf(this.cache.putForDecryption(id, key), Buffer.alloc(0));
  }

  /** Zeroizes every cached data key. */
  clear(): void {
    this.cache?.clear();
  }

  private async generate(req: EncryptionKeyRequest, stats: CacheStats): Promise<DataKeyLease> {
    stats.kmsCalls++;
    const r = await this.client.generateDataKey({ keyId: req.keyId!, keySpec: 'AES_256', ...(req.context !== undefined ? { context: req.context } : {}) });
    const key = r.plaintext;
    return { key, encodedSource: encodeKeySource({ kind: 'kms', wrappedKey: r.ciphertextBlob }), done: () => zeroize(key) };
  }

  private leaseOf(entry: CachedKey, encodedSource: Buffer): DataKeyLease {
    let released = false;
    return {
      key: entry.key,
      encodedSource,
      done: () => {
        if (released) return;
        released = true;
        this.cache?.release(entry);
      },
    };
  }
}

/** Cache partition: the key as named by the caller and the exact context bytes. */
function partitionOf(req: EncryptionKeyRequest): string {
  return `${req.keyId}\u0000${req.canonicalContext.toString('latin1')}`;
}
