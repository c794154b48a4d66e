import { randomBytes, randomInt } from 'node:crypto';
import { zeroize } from '../crypto/index.js';
import { KeywardError } from '../errors/index.js';
import { StoreConflictError, type Barrier, type BarrierEntry, type BarrierReader, type BarrierWriter } from '../barrier/index.js';
import { BoundedCache, type CacheLimits, type CacheStats } from './cache.js';
import { addDays, type Clock } from './clock.js';
import { deriveTenantMasterKey } from './material.js';
import { isTenantPath, paths, tenantRecords, tenantSchedulePaths } from './paths.js';
import { decodeRecord, encodeRecord, reconcileIndex } from './records.js';
import { withCasRetry } from './retry.js';
import { isTenantExpired, tenantState } from './tenant-state.js';
import type { Tenant, TenantQuotas, TenantUsage } from './types.js';
import { NO_USAGE, readUsage } from './usage.js';

export const DEFAULT_TENANT = 'default';
const TENANT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function checkTenantId(id: string): void {
  if (!TENANT_ID.test(id)) {
    throw new KeywardError('ValidationException', "Tenant id must be 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit.");
  }
}

interface MasterKey { key: Buffer }

export const UNLIMITED: TenantQuotas = { maxKeys: 0, maxPrincipals: 0, requestsPerSecond: 0, burst: 0 };

/** Tenants, their lifecycle (suspension, deletion) and quotas, and their master keys (derived on demand, cached, zeroized when dropped). */
export class Tenants {
  private readonly records: BoundedCache<Tenant>;
  private readonly masterKeys: BoundedCache<MasterKey>;

  /** `defaults`: the quotas of every tenant but `default` (unlimited unless given its own). */
  constructor(private readonly barrier: Barrier, private readonly clock: Clock, limits: CacheLimits, private readonly defaults: TenantQuotas = UNLIMITED) {
    this.records = new BoundedCache(limits);
    this.masterKeys = new BoundedCache(limits, (m) => zeroize(m.key));
  }

  /** Creates a tenant (and its usage record); with `tx`, inside the caller's transaction. */
  async create(id: string, tx?: BarrierWriter): Promise<Tenant> {
    checkTenantId(id);
    const tenant: Tenant = {
      id,
      accountId: String(randomInt(100_000_000_000, 999_999_999_999)),
      salt: randomBytes(32).toString('base64'),
      createdAt: this.clock().toISOString(),
    };
    const write = async (w: BarrierWriter) => {
      await w.put(paths.tenant(id), encodeRecord(tenant), { ifVersion: 0 });
      // a usage record left by a tenant of this id that was deleted before usage records existed
      await w.delete(paths.usage(id));
      await w.put(paths.usage(id), encodeRecord(NO_USAGE), { ifVersion: 0 });
    };
    try {
      await (tx ? write(tx) : this.barrier.transaction(write));
    } catch (e) {
      if (e instanceof StoreConflictError) throw new KeywardError('AlreadyExistsException', `Tenant ${id} already exists.`);
      throw e;
    }
    return tenant;
  }

  /** The quotas that apply to the tenant: its own, else the configured defaults (`default`: unlimited). */
  quotas(tenant: Tenant): TenantQuotas {
    return { ...(tenant.id === DEFAULT_TENANT ? UNLIMITED : this.defaults), ...tenant.quotas };
  }

  usage(tenant: Tenant): Promise<TenantUsage> {
    return readUsage(this.barrier, tenant.id);
  }

  /**
   * Applies `change` to the tenant record under compare-and-set (retried on conflict) and moves
   * its schedule entry with it. `change` may throw (state checks) or return the record unchanged.
   */
  async update(id: string, change: (tenant: Tenant, now: Date) => Tenant): Promise<Tenant> {
    const updated = await withCasRetry(() => this.barrier.transaction(async (tx) => {
      const entry = await tx.get(paths.tenant(id));
      if (entry === undefined) throw notFound(id);
      const before = decodeRecord<Tenant>(entry);
      const after = change(before, this.clock());
      if (after === before) return before;
      await tx.put(entry.path, encodeRecord(after), { ifVersion: entry.version });
      await reconcileIndex(tx, tenantSchedulePaths(before), tenantSchedulePaths(after));
      return after;
    }));
    this.invalidate(id);
    return updated;
  }

  /** PendingDeletion for `days` (7-30): every request of the tenant is refused until cancelled or deleted. */
  async scheduleDeletion(id: string, days: number): Promise<Tenant> {
    refuseDefaultTenant(id, 'deleted');
    return this.update(id, (t, now) => {
      requireNotPendingDeletion(t);
      return { ...t, deletion: { date: addDays(now, days).toISOString(), windowDays: days, requestedAt: now.toISOString() } };
    });
  }

  /** Cancels a pending deletion: the tenant is exactly as it was before (Active or Suspended). */
  cancelDeletion(id: string): Promise<Tenant> {
    return this.update(id, (t) => {
      if (t.deletion === undefined) throw new KeywardError('KMSInvalidStateException', `Tenant ${id} is not pending deletion (it is ${tenantState(t)}).`);
      const { deletion: _deletion, ...rest } = t;
      return rest;
    });
  }

  async suspend(id: string, reason: string): Promise<Tenant> {
    refuseDefaultTenant(id, 'suspended');
    return this.update(id, (t, now) => {
      requireNotPendingDeletion(t);
      const { resumeReason: _r, ...rest } = t;
      return { ...rest, suspension: { reason, at: now.toISOString() } };
    });
  }

  resume(id: string, reason: string | undefined): Promise<Tenant> {
    return this.update(id, (t) => {
      requireNotPendingDeletion(t);
      if (t.suspension === undefined) throw new KeywardError('KMSInvalidStateException', `Tenant ${id} is not suspended.`);
      const { suspension: _s, resumeReason: _r, ...rest } = t;
      return reason === undefined ? rest : { ...rest, resumeReason: reason };
    });
  }

  /** Sets some of the tenant's quotas (0: unlimited); the others keep their value. */
  updateQuotas(id: string, quotas: Partial<TenantQuotas>): Promise<Tenant> {
    return this.update(id, (t) => {
      requireNotPendingDeletion(t);
      return { ...t, quotas: { ...t.quotas, ...quotas } };
    });
  }

  /**
   * The deletion job (the scheduler runs it when the window has ended, on whichever node gets
   * there first): the tenant record with its salt, and every record of the tenant (tenantRecords
   * in paths.ts), in one transaction. The tenant record goes first, by compare-and-set, so a
   * racing cancellation or another node's run makes this one a no-op. Answers whether it deleted.
   */
  async purge(id: string): Promise<boolean> {
    const purged = await withCasRetry(() => this.barrier.transaction(async (tx) => {
      const entry = await tx.get(paths.tenant(id));
      if (entry === undefined) return false;
      const tenant = decodeRecord<Tenant>(entry);
      if (!isTenantExpired(tenant, this.clock())) return false;
      await tx.delete(entry.path, { ifVersion: entry.version });
      for (const p of tenantSchedulePaths(tenant)) await tx.delete(p);
      await forEachTenantRecord(tx, id, async (path, owned) => {
        for (const p of owned) await tx.delete(p);
        await tx.delete(path);
      });
      return true;
    }));
    if (purged) this.invalidate(id);
    return purged;
  }

  /** find() when the tenant is in the cache, without a promise; undefined otherwise (then call find). */
  cached(id: string): Tenant | undefined {
    return this.records.cached(id);
  }

  async find(id: string): Promise<Tenant | undefined> {
    return this.records.get(id, async () => {
      const entry = await this.barrier.get(paths.tenant(id));
      return entry === undefined ? undefined : decodeRecord<Tenant>(entry);
    });
  }

  async require(id: string): Promise<Tenant> {
    const t = await this.find(id);
    if (t === undefined) throw notFound(id);
    return t;
  }

  async list(after?: string, limit?: number): Promise<{ tenants: Tenant[]; next?: string }> {
    const page = await this.barrier.list(paths.tenants(), { ...(after !== undefined ? { after } : {}), ...(limit !== undefined ? { limit } : {}) });
    const tenants = page.entries.map((e) => decodeRecord<Tenant>(e));
    return page.next === undefined ? { tenants } : { tenants, next: page.next };
  }

  /** The tenant master key; the returned buffer belongs to the cache: do not keep or zeroize it. */
  async masterKey(tenant: Tenant): Promise<Buffer> {
    const m = await this.masterKeys.get(tenant.id, async () => ({
      key: deriveTenantMasterKey(this.barrier.tenantDerivationKey(), tenant.id, Buffer.from(tenant.salt, 'base64')),
    }));
    if (m === undefined) throw new Error('unreachable');
    return m.key;
  }

  invalidate(id: string): void {
    this.records.delete(id);
    this.masterKeys.delete(id);
  }

  /** Sizes and hit counts of the tenant caches (metrics). */
  cacheStats(): Record<string, CacheStats> {
    return { tenant: this.records.stats(), tenant_master_key: this.masterKeys.stats() };
  }

  clear(): void {
    this.records.clear();
    this.masterKeys.clear();
  }
}

/**
 * Visits every record of a tenant (tenantRecords in paths.ts) with the records outside the
 * tenant's paths that it owns. Safe to delete what was visited while visiting.
 */
export async function forEachTenantRecord(reader: BarrierReader, tenantId: string, visit: (path: string, owned: readonly string[]) => Promise<void>): Promise<void> {
  for (const kind of tenantRecords(tenantId)) {
    const visitEntry = (e: BarrierEntry) => visit(e.path, kind.owns?.(e) ?? []);
    if ('path' in kind) {
      const e = await reader.get(kind.path);
      if (e !== undefined) await visitEntry(e);
      continue;
    }
    for (let after: string | undefined; ;) {
      const page = await reader.list(kind.prefix, { ...(after !== undefined ? { after } : {}), limit: 1000 });
      for (const e of page.entries) await visitEntry(e);
      if (page.next === undefined) break;
      after = page.next;
    }
  }
}

/**
 * Which store paths are the tenant's: its prefixes and paths (tenantRecords) and the records
 * outside them that its records own, as they are now. For leaving a tenant out of a copy.
 */
export async function tenantPathMatcher(reader: BarrierReader, tenantId: string): Promise<(path: string) => boolean> {
  const kinds = tenantRecords(tenantId);
  const owned = new Set<string>();
  await forEachTenantRecord(reader, tenantId, async (_path, paths) => {
    for (const p of paths) owned.add(p);
  });
  return (path) => owned.has(path) || isTenantPath(kinds, path);
}

/** `default` holds the system administrators: it cannot be deleted, suspended or left out. */
export function refuseDefaultTenant(id: string, what: string): void {
  if (id === DEFAULT_TENANT) throw new KeywardError('ValidationException', `The default tenant cannot be ${what}: it holds the system administrators.`);
}

function notFound(id: string): KeywardError {
  return new KeywardError('NotFoundException', `Tenant ${id} does not exist.`);
}

function requireNotPendingDeletion(t: Tenant): void {
  if (t.deletion !== undefined) {
    throw new KeywardError('KMSInvalidStateException', `Tenant ${t.id} is pending deletion (deletion date ${t.deletion.date}); cancel the deletion first.`);
  }
}
