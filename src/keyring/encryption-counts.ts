import { LRUCache } from 'lru-cache';
import { KeywardError } from '../errors/index.js';
import type { Barrier } from '../barrier/index.js';
import type { Keys } from './keys.js';
import { paths } from './paths.js';
import { decodeRecord, encodeRecord } from './records.js';
import { withCasRetry } from './retry.js';
import type { KeyRecord, Tenant, EncryptionCountRecord } from './types.js';

export interface EncryptionCountsOptions {
  /** Encryptions a node reserves at a time (one store transaction per block). */
  readonly reserveBlock: number;
  /** Keys whose block this node keeps (least recently used dropped; its rest is forfeited). */
  readonly maxKeys: number;
}

/** This node's reserved range of encryptions under one version: [next, end). */
interface Block {
  readonly version: number;
  next: number;
  readonly end: number;
}

/**
 * Usage-bounded rotation for keys with `maxEncryptions` (scope keys). Every encryption takes one
 * count from a block this node reserved in the version's usage record; blocks are reserved with
 * compare-and-set, like the barrier's reservations, so the nodes sharing a store never hand out
 * more than the maximum under one version, and the counts survive restarts (a node that stops
 * forfeits the rest of its block: the count is an upper bound, never below the truth). When the
 * version has nothing left, the key rotates (once across nodes) and counting starts on the new one.
 */
export class EncryptionCounts {
  private readonly blocks: LRUCache<string, Block>;
  private readonly reserving = new Map<string, Promise<KeyRecord>>();

  constructor(private readonly barrier: Barrier, private readonly keys: Keys, private readonly options: EncryptionCountsOptions) {
    // maxSize with weight 1 bounds the count without preallocating `maxKeys` slots (see cache.ts).
    this.blocks = new LRUCache({ maxSize: Math.max(1, options.maxKeys), sizeCalculation: () => 1 });
  }

  /**
   * Counts one encryption under the key's primary version and answers the key to encrypt with:
   * the same record, or the rotated one when the primary version had reached the maximum.
   */
  async take(tenant: Tenant, key: KeyRecord): Promise<KeyRecord> {
    const max = key.maxEncryptions;
    if (max === undefined) return key;
    const id = `${tenant.id}/${key.keyId}`;
    let current = key;
    for (let attempt = 0; attempt < 50; attempt++) {
      const block = this.blocks.get(id);
      if (block !== undefined && block.version === current.primaryVersion && block.next < block.end) {
        block.next++;
        return current;
      }
      current = await this.reserve(tenant, current, max, id);
    }
    throw new KeywardError('ThrottlingException', `Key ${key.keyId} is being rotated by many requests at once; retry the request.`);
  }

  /** Encryptions counted under a version (all nodes, minus what this node reserved but has not used). */
  async count(tenant: Tenant, key: KeyRecord, version: number): Promise<number> {
    const entry = await this.barrier.get(paths.encryptionCount(tenant.id, key.keyId, version));
    const reserved = entry === undefined ? 0 : decodeRecord<EncryptionCountRecord>(entry).reserved;
    const block = this.blocks.get(`${tenant.id}/${key.keyId}`);
    const unused = block !== undefined && block.version === version ? block.end - block.next : 0;
    return Math.max(0, reserved - unused);
  }

  /**
   * Forgets this node's blocks (at shutdown): their rest is forfeited, never reused. Blocks are
   * reservations this node owns, not cached store data: cache invalidations leave them alone.
   */
  clear(): void {
    this.blocks.clear();
  }

  /** One reservation per key at a time on this node; callers then look at the block again. */
  private reserve(tenant: Tenant, key: KeyRecord, max: number, id: string): Promise<KeyRecord> {
    let pending = this.reserving.get(id);
    if (pending === undefined) {
      pending = this.reserveNow(tenant, key, max, id).finally(() => this.reserving.delete(id));
      this.reserving.set(id, pending);
    }
    return pending;
  }

  private async reserveNow(tenant: Tenant, key: KeyRecord, max: number, id: string): Promise<KeyRecord> {
    const version = key.primaryVersion;
    const path = paths.encryptionCount(tenant.id, key.keyId, version);
    const granted = await withCasRetry(() => this.barrier.transaction(async (tx) => {
      const entry = await tx.get(path);
      const reserved = entry === undefined ? 0 : decodeRecord<EncryptionCountRecord>(entry).reserved;
      if (reserved >= max) return undefined;
      const grant = Math.min(this.options.reserveBlock, max - reserved);
      await tx.put(path, encodeRecord({ reserved: reserved + grant } satisfies EncryptionCountRecord), { ifVersion: entry?.version ?? 0 });
      return { from: reserved, to: reserved + grant };
    }));
    if (granted !== undefined) {
      this.blocks.set(id, { version, next: granted.from, end: granted.to });
      return key;
    }
    // the version is used up (by every node together): the next encryption needs a new version
    return this.keys.rotateIfPrimary(tenant, key.keyId, version);
  }
}
