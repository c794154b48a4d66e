import { TokenBucket } from 'limiter';
import { LRUCache } from 'lru-cache';
import { KeywardError } from '../../errors/index.js';

/** A token bucket's shape: `tokens` drip in every `intervalMs`, up to `burst` held. 0 tokens disables it. */
export interface BucketSpec {
  readonly tokens: number;
  readonly intervalMs: number;
  readonly burst: number;
}

export interface RateLimitOptions {
  /** Every authenticated request of one principal. */
  readonly principal: BucketSpec;
  /** Argon2-heavy public operations (init, unseal), per source address. */
  readonly expensive: BucketSpec;
  /** How many distinct principals / addresses keep a bucket (least recently used are dropped). */
  readonly maxTracked?: number;
}

/**
 * Per-principal and per-address token buckets. Buckets live in a bounded LRU so that a flood of
 * distinct callers costs bounded memory; a dropped bucket comes back full, which only ever errs
 * towards letting a request through.
 */
export class RateLimits {
  private readonly principals: LRUCache<string, TokenBucket>;
  private readonly addresses: LRUCache<string, TokenBucket>;
  private readonly tenants: LRUCache<string, TokenBucket>;

  constructor(private readonly options: RateLimitOptions) {
    // Bounded by count through maxSize (each bucket weighs 1) rather than `max`: lru-cache
    // preallocates `max` slots in its constructor (~1.6 MiB and tens of ms per 100k, at every
    // start); with maxSize the storage grows with the buckets, up to the same bound.
    const bound = { maxSize: options.maxTracked ?? 100_000, sizeCalculation: () => 1 };
    this.principals = new LRUCache(bound);
    this.addresses = new LRUCache(bound);
    this.tenants = new LRUCache(bound);
  }

  /** Takes one token for the principal or throws ThrottlingException (AWS's shape, HTTP 400). */
  takePrincipal(principalId: string): void {
    if (!take(this.principals, principalId, this.options.principal)) {
      throw new KeywardError('ThrottlingException', 'Rate exceeded: this principal sent more requests than its configured rate; retry with backoff.');
    }
  }

  /**
   * Takes one token from the tenant's bucket, which every principal of the tenant shares (on top
   * of each principal's own). The spec comes with the call (the tenant's quota), so a changed
   * quota applies at once. Each node keeps its own buckets.
   */
  takeTenant(tenantId: string, spec: BucketSpec): void {
    if (!take(this.tenants, tenantId, spec)) {
      throw new KeywardError('ThrottlingException', `Rate exceeded: tenant ${tenantId} sent more than its quota of ${spec.tokens} requests per second; retry with backoff.`);
    }
  }

  /** Takes one token for an expensive public operation from this source address. */
  takeExpensive(sourceAddress: string, operation: string): void {
    if (!take(this.addresses, sourceAddress, this.options.expensive)) {
      throw new KeywardError('ThrottlingException', `Rate exceeded: too many ${operation} requests from this address; retry later.`);
    }
  }
}

function take(buckets: LRUCache<string, TokenBucket>, key: string, spec: BucketSpec): boolean {
  if (spec.tokens <= 0) return true;
  let bucket = buckets.get(key);
  if (bucket === undefined || bucket.tokensPerInterval !== spec.tokens || bucket.interval !== spec.intervalMs || bucket.bucketSize !== Math.max(1, spec.burst)) {
    bucket = new TokenBucket({ bucketSize: Math.max(1, spec.burst), tokensPerInterval: spec.tokens, interval: spec.intervalMs });
    bucket.content = bucket.bucketSize;
    buckets.set(key, bucket);
  }
  return bucket.tryRemoveTokens(1);
}
