import { isIPv4, isIPv6 } from 'node:net';
import { TokenBucket } from 'limiter';
import { LRUCache } from 'lru-cache';
import { KeywardError } from '../../errors/index.js';

/** A token bucket's shape: `tokens` drip in every `intervalMs`, up to `burst` held. 0 tokens disables it. */
export interface BucketSpec {
  readonly tokens: number;
  readonly intervalMs: number;
  readonly burst: number;
}

/** What the composition root is told about each failed secret check (it logs a line). */
export interface SecretFailure {
  readonly operation: string;
  readonly sourceAddress: string;
  readonly requestId: string;
}

export interface RateLimitOptions {
  /** Every authenticated request of one principal. */
  readonly principal: BucketSpec;
  /** Argon2-heavy public operations (init, unseal), per source address. */
  readonly expensive: BucketSpec;
  /**
   * Failed secret checks (a wrong passphrase or share for unseal, escrow, rekey, rotate-root),
   * whoever asks: one bucket for the whole node and one per network (/24 for IPv4, /64 for IPv6),
   * so that rotating source addresses buys nothing.
   */
  readonly secretFailures?: { readonly global: BucketSpec; readonly network: BucketSpec };
  /** Requests without an authenticated caller (none given, or a failed one): per address and for the node. */
  readonly unauthenticated?: { readonly address: BucketSpec; readonly global: BucketSpec };
  /** How many distinct principals / addresses keep a bucket (least recently used are dropped). */
  readonly maxTracked?: number;
  /** Called once per failed secret check (the server logs it). */
  readonly onSecretFailure?: (failure: SecretFailure) => void;
}

/** The source key of callers without a network address (Unix sockets, in-process CLI). */
const LOCAL = 'local';

/**
 * Per-principal and per-address token buckets. Buckets live in a bounded LRU so that a flood of
 * distinct callers costs bounded memory; a dropped bucket comes back full, which only ever errs
 * towards letting a request through. The node-wide buckets bound what any number of addresses
 * together can do.
 */
export class RateLimits {
  private readonly principals: LRUCache<string, TokenBucket>;
  private readonly addresses: LRUCache<string, TokenBucket>;
  private readonly tenants: LRUCache<string, TokenBucket>;
  private readonly secretNetworks: LRUCache<string, TokenBucket>;
  private readonly unauthenticatedAddresses: LRUCache<string, TokenBucket>;
  private readonly globals = new LRUCache<string, TokenBucket>({ max: 8 });

  constructor(private readonly options: RateLimitOptions) {
    // Bounded by count through maxSize (each bucket weighs 1) rather than `max`: lru-cache
    // preallocates `max` slots in its constructor (~1.6 MiB and tens of ms per 100k, at every
    // start); with maxSize the storage grows with the buckets, up to the same bound.
    const bound = { maxSize: options.maxTracked ?? 100_000, sizeCalculation: () => 1 };
    this.principals = new LRUCache(bound);
    this.addresses = new LRUCache(bound);
    this.tenants = new LRUCache(bound);
    this.secretNetworks = new LRUCache(bound);
    this.unauthenticatedAddresses = new LRUCache(bound);
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
    if (!take(this.addresses, sourceKey(sourceAddress), this.options.expensive)) {
      throw new KeywardError('ThrottlingException', `Rate exceeded: too many ${operation} requests from this address; retry later.`);
    }
  }

  /**
   * Reserves one failed secret check before a passphrase or shares are checked: a token of the
   * source's network and one of the node (callers without an address, on the 0600 Unix socket or
   * in process, have a bucket of their own instead, so a remote flood cannot lock the operator
   * out). The caller settles the reservation: `failed()` keeps the tokens and reports the
   * failure, `passed()` gives them back (only failures are counted).
   */
  reserveSecretCheck(sourceAddress: string, operation: string, requestId: string): { failed(): void; passed(): void } {
    const spec = this.options.secretFailures;
    const settled = { failed: () => this.options.onSecretFailure?.({ operation, sourceAddress, requestId }), passed: () => undefined };
    if (spec === undefined) return settled;
    const taken: Array<TokenBucket | undefined> = [];
    const key = networkKey(sourceAddress);
    const network = takeBucket(this.secretNetworks, key, spec.network);
    if (network === false) throw secretThrottled(operation, key === LOCAL ? 'this local socket' : `this network (${key})`);
    taken.push(network);
    if (key !== LOCAL) {
      const node = takeBucket(this.globals, 'secret-failures', spec.global);
      if (node === false) {
        refund(network);
        throw secretThrottled(operation, 'all addresses together');
      }
      taken.push(node);
    }
    return {
      failed: settled.failed,
      passed: () => taken.forEach(refund),
    };
  }

  /**
   * Takes one token for a request that has no authenticated caller (none given, a failed one, or
   * refused before reaching an operation): per source address, and for the node (Unix-socket and
   * in-process callers have their own bucket instead).
   */
  takeUnauthenticated(sourceAddress: string): void {
    const spec = this.options.unauthenticated;
    if (spec === undefined) return;
    const key = sourceKey(sourceAddress);
    if (!take(this.unauthenticatedAddresses, key, spec.address)) {
      throw new KeywardError('ThrottlingException', 'Rate exceeded: too many unauthenticated or failed requests from this address; retry later.');
    }
    if (key !== LOCAL && !take(this.globals, 'unauthenticated', spec.global)) {
      throw new KeywardError('ThrottlingException', 'Rate exceeded: too many unauthenticated or failed requests reach this server; retry later.');
    }
  }
}

function secretThrottled(operation: string, scope: string): KeywardError {
  return new KeywardError('ThrottlingException', `Rate exceeded: too many failed passphrase or share checks from ${scope}; ${operation} was not attempted. Retry later.`);
}

function take(buckets: LRUCache<string, TokenBucket>, key: string, spec: BucketSpec): boolean {
  return takeBucket(buckets, key, spec) !== false;
}

/** The bucket a token was taken from (undefined when the limit is off), or false when empty. */
function takeBucket(buckets: LRUCache<string, TokenBucket>, key: string, spec: BucketSpec): TokenBucket | undefined | false {
  if (spec.tokens <= 0) return undefined;
  let bucket = buckets.get(key);
  if (bucket === undefined || bucket.tokensPerInterval !== spec.tokens || bucket.interval !== spec.intervalMs || bucket.bucketSize !== Math.max(1, spec.burst)) {
    bucket = new TokenBucket({ bucketSize: Math.max(1, spec.burst), tokensPerInterval: spec.tokens, interval: spec.intervalMs });
    bucket.content = bucket.bucketSize;
    buckets.set(key, bucket);
  }
  return bucket.tryRemoveTokens(1) ? bucket : false;
}

function refund(bucket: TokenBucket | undefined): void {
  if (bucket !== undefined) bucket.content = Math.min(bucket.bucketSize, bucket.content + 1);
}

/** The bucket key of a source address: the address, or `local` for callers without one. */
function sourceKey(sourceAddress: string): string {
  return !sourceAddress || sourceAddress === 'unix-socket' || sourceAddress === 'local' ? LOCAL : sourceAddress;
}

/**
 * The network an address belongs to for secret-check limits: its /24 (IPv4, also IPv4-mapped
 * IPv6) or /64 (IPv6). Anything else (no address) is `local`.
 */
export function networkKey(sourceAddress: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(sourceAddress);
  const address = mapped?.[1] ?? sourceAddress;
  if (isIPv4(address)) return `${address.split('.').slice(0, 3).join('.')}.0/24`;
  if (isIPv6(address)) return `${expandIPv6(address).slice(0, 4).join(':')}::/64`;
  return LOCAL;
}

/** The eight hextets of an IPv6 address (zone id dropped), without leading zeros. */
function expandIPv6(address: string): string[] {
  const plain = address.split('%')[0]!.toLowerCase();
  const [head, tail] = plain.includes('::') ? plain.split('::') as [string, string] : [plain, undefined];
  const part = (s: string | undefined) => (s === undefined || s === '' ? [] : s.split(':'));
  const left = part(head);
  const right = part(tail);
  // an embedded IPv4 tail (::1.2.3.4) counts as two hextets; it only ever falls in the last 64 bits
  const width = (xs: string[]) => xs.reduce((n, x) => n + (x.includes('.') ? 2 : 1), 0);
  const fill = tail === undefined ? [] : Array.from({ length: 8 - width(left) - width(right) }, () => '0');
  return [...left, ...fill, ...right].map((h) => (h.includes('.') ? h : (parseInt(h, 16) || 0).toString(16)));
}
