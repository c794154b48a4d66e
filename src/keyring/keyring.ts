import type { Barrier, StoreChange } from '../barrier/index.js';
import { Aliases } from './aliases.js';
import { Grants } from './grants.js';
import type { CacheLimits, CacheStats } from './cache.js';
import type { Clock } from './clock.js';
import { Imports } from './imports.js';
import { Keys } from './keys.js';
import { classifyPath } from './paths.js';
import { Principals } from './principals.js';
import { Scheduler } from './scheduler.js';
import { Tenants } from './tenants.js';
import type { TenantQuotas } from './types.js';
import { EncryptionCounts } from './encryption-counts.js';

export interface KeyringOptions {
  readonly region: string;
  /** Metadata caches: keys, aliases, tenants, credentials. */
  readonly metadataCache: CacheLimits;
  /** Unwrapped key material: bounded, zeroized on eviction and on seal. */
  readonly materialCache: CacheLimits;
  /** Quotas of every tenant but `default` unless set for the tenant (default: unlimited). */
  readonly tenantQuotas?: TenantQuotas;
  /** Usage-bounded rotation: encryptions a node reserves at a time per key version. */
  readonly encryptionCountBlock?: number;
  readonly onError: (e: unknown) => void;
  /** A tenant's deletion window ended and this node deleted it (crypto-shredded). */
  readonly onTenantDeleted?: (tenantId: string) => void;
}

/**
 * Tenants, keys, aliases and principals over the barrier, with bounded caches kept coherent by
 * the store's change feed (this node's writes and, through the store, every other node's).
 */
export class Keyring {
  readonly tenants: Tenants;
  readonly keys: Keys;
  readonly imports: Imports;
  readonly aliases: Aliases;
  readonly grants: Grants;
  readonly principals: Principals;
  readonly encryptionCounts: EncryptionCounts;
  readonly scheduler: Scheduler;
  private readonly unwatch: () => void;

  constructor(readonly barrier: Barrier, readonly clock: Clock, readonly options: KeyringOptions) {
    this.tenants = new Tenants(barrier, clock, options.metadataCache, options.tenantQuotas);
    this.keys = new Keys(barrier, this.tenants, clock, { region: options.region, records: options.metadataCache, material: options.materialCache });
    this.imports = new Imports(barrier, this.tenants, clock);
    this.aliases = new Aliases(barrier, clock, options.metadataCache, options.region);
    this.grants = new Grants(barrier, options.metadataCache);
    this.principals = new Principals(barrier, clock, options.metadataCache, this.tenants);
    this.encryptionCounts = new EncryptionCounts(barrier, this.keys, { reserveBlock: options.encryptionCountBlock ?? 1000, maxKeys: options.metadataCache.max });
    this.scheduler = new Scheduler(barrier, this.tenants, this.keys, clock, options.onError, options.onTenantDeleted);
    this.unwatch = barrier.watch((change) => this.onChange(change));
  }

  get region(): string {
    return this.options.region;
  }

  /** Every cache of the keyring: size, hits and misses, by a fixed name (metric labels). */
  cacheStats(): Record<string, CacheStats> {
    return { ...this.tenants.cacheStats(), ...this.keys.cacheStats(), ...this.aliases.cacheStats(), ...this.principals.cacheStats() };
  }

  /** Forgets every cached record and key (on seal and shutdown); material is zeroized. */
  clear(): void {
    this.tenants.clear();
    this.keys.clear();
    this.aliases.clear();
    this.grants.clear();
    this.principals.invalidate();
  }

  close(): void {
    this.scheduler.stop();
    this.unwatch();
    this.clear();
    this.encryptionCounts.clear();
  }

  private onChange(change: StoreChange): void {
    if ('all' in change) {
      this.clear();
      return;
    }
    for (const path of change.keys) {
      const c = classifyPath(path);
      switch (c.kind) {
        case 'tenant': this.tenants.invalidate(c.tenantId); break;
        case 'key': this.keys.invalidate(c.tenantId, c.keyId); break;
        case 'material': this.keys.invalidateMaterial(c.tenantId, c.keyId, c.version); break;
        case 'alias': this.aliases.invalidate(c.tenantId, c.aliasName); break;
        case 'grant': this.grants.invalidate(c.tenantId, c.keyId); break;
        case 'principal':
        case 'credential': this.principals.invalidate(); break;
        case 'keyring': this.clear(); break;
        case 'pki':
        case 'other': break;
      }
    }
  }
}
