import { LRUCache } from 'lru-cache';

/** What the metrics see of a cache: never its keys or values. */
export interface CacheStats {
  readonly size: number;
  readonly hits: number;
  readonly misses: number;
}

export interface CacheLimits {
  readonly max: number;
  readonly ttlMs: number;
}

/**
 * A bounded cache (size and TTL) that tolerates invalidation racing a load: a value loaded while
 * an invalidation happened is not stored, so a stale read never outlives the change that
 * invalidated it. `dispose` runs when a value leaves (evicted, expired, invalidated, cleared):
 * key material is zeroized there, deferred to the next macrotask, so a caller that received the
 * value uses it safely in the same synchronous continuation. Contract: never hold a cached key
 * across an await.
 */
export class BoundedCache<V extends object> {
  private readonly lru: LRUCache<string, V>;
  private epoch = 0;
  private readonly inflight = new Map<string, Promise<V | undefined>>();
  private readonly disposeLater: ((value: V) => void) | undefined;
  /** Lookups answered from memory and lookups that went to the store (the hit-rate metric). */
  hits = 0;
  misses = 0;

  constructor(limits: CacheLimits, dispose?: (value: V) => void) {
    this.disposeLater = dispose ? (value: V) => void setImmediate(() => dispose(value)) : undefined;
    // Bounded by count through maxSize (each entry weighs 1), not `max`: lru-cache preallocates
    // arrays of `max` slots in its constructor (~3 MiB and tens of ms for 100k with a TTL, per
    // cache, at every start); with maxSize they grow with the entries, up to the same bound.
    this.lru = new LRUCache<string, V>({
      maxSize: limits.max,
      sizeCalculation: one,
      ttl: limits.ttlMs,
      ...(this.disposeLater ? { dispose: this.disposeLater } : {}),
    });
  }

  peek(key: string): V | undefined {
    return this.lru.get(key);
  }

  /** The cached value, counted as a hit, or undefined (nothing loaded, no miss counted: the caller goes on to get()). */
  cached(key: string): V | undefined {
    const hit = this.lru.get(key);
    if (hit !== undefined) this.hits++;
    return hit;
  }

  /** Returns the cached value or loads it once (concurrent callers share one load). */
  async get(key: string, load: () => Promise<V | undefined>): Promise<V | undefined> {
    const hit = this.lru.get(key);
    if (hit !== undefined) {
      this.hits++;
      return hit;
    }
    this.misses++;
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const epoch = this.epoch;
    const p = load().then((value) => {
      if (value !== undefined && epoch === this.epoch) this.lru.set(key, value);
      // loaded while an invalidation happened: handed to the callers waiting, then disposed like an evicted value
      else if (value !== undefined) this.disposeLater?.(value);
      return value;
    }).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  set(key: string, value: V): void {
    this.lru.set(key, value);
  }

  delete(key: string): void {
    this.epoch++;
    this.inflight.delete(key);
    this.lru.delete(key);
  }

  /** Drops every entry whose cache key starts with prefix. */
  deletePrefix(prefix: string): void {
    this.epoch++;
    for (const k of [...this.lru.keys()]) if (k.startsWith(prefix)) this.lru.delete(k);
    for (const k of [...this.inflight.keys()]) if (k.startsWith(prefix)) this.inflight.delete(k);
  }

  clear(): void {
    this.epoch++;
    this.inflight.clear();
    this.lru.clear();
  }

  get size(): number {
    return this.lru.size;
  }

  stats(): CacheStats {
    return { size: this.lru.size, hits: this.hits, misses: this.misses };
  }
}

const one = (): number => 1;
