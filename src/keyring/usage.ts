import { KeywardError } from '../errors/index.js';
import { StoreConflictError, type BarrierReader, type BarrierWriter } from '../barrier/index.js';
import { paths } from './paths.js';
import { decodeRecord, encodeRecord } from './records.js';
import type { Tenant, TenantQuotas, TenantUsage } from './types.js';

export const NO_USAGE: TenantUsage = { keys: 0, principals: 0 };

async function countUnder(reader: BarrierReader, prefix: string): Promise<number> {
  let n = 0;
  for (let after: string | undefined; ;) {
    const page = await reader.list(prefix, { ...(after !== undefined ? { after } : {}), limit: 1000 });
    n += page.entries.length;
    if (page.next === undefined) return n;
    after = page.next;
  }
}

/** Counts what a tenant holds: for tenants made before usage records existed (once; then kept). */
async function count(reader: BarrierReader, tenantId: string): Promise<TenantUsage> {
  return { keys: await countUnder(reader, paths.keys(tenantId)), principals: await countUnder(reader, paths.principals(tenantId)) };
}

export async function readUsage(reader: BarrierReader, tenantId: string): Promise<TenantUsage> {
  const entry = await reader.get(paths.usage(tenantId));
  return entry === undefined ? count(reader, tenantId) : decodeRecord<TenantUsage>(entry);
}

const limitExceeded = (tenantId: string, max: number, what: string, quota: string) => new KeywardError(
  'LimitExceededException',
  `Tenant ${tenantId} has reached its quota of ${max} ${what} (${quota}); delete some or ask a system administrator to raise it with UpdateTenant.`,
);

/**
 * Adds `delta` to the tenant's usage inside the caller's transaction, before the caller writes
 * what it counts; growth past the tenant's quota is refused with LimitExceededException. Writers
 * on other nodes race on the one usage record: a lost compare-and-set is retried here, inside the
 * same transaction, after a fresh read, so the caller's own writes are not redone.
 */
export async function adjustUsage(tx: BarrierWriter, tenantId: string, delta: Partial<TenantUsage>, quotasOf: (tenant: Tenant) => TenantQuotas): Promise<TenantUsage> {
  const tenantEntry = await tx.get(paths.tenant(tenantId));
  if (tenantEntry === undefined) throw new KeywardError('NotFoundException', `Tenant ${tenantId} does not exist.`);
  const quotas = quotasOf(decodeRecord<Tenant>(tenantEntry));
  const addKeys = delta.keys ?? 0;
  const addPrincipals = delta.principals ?? 0;
  for (let attempt = 1; ; attempt++) {
    const entry = await tx.get(paths.usage(tenantId));
    const current = entry === undefined ? await count(tx, tenantId) : decodeRecord<TenantUsage>(entry);
    const next: TenantUsage = { keys: Math.max(0, current.keys + addKeys), principals: Math.max(0, current.principals + addPrincipals) };
    if (addKeys > 0 && quotas.maxKeys > 0 && next.keys > quotas.maxKeys) throw limitExceeded(tenantId, quotas.maxKeys, 'keys', 'MaxKeys');
    if (addPrincipals > 0 && quotas.maxPrincipals > 0 && next.principals > quotas.maxPrincipals) {
      throw limitExceeded(tenantId, quotas.maxPrincipals, 'principals', 'MaxPrincipals');
    }
    try {
      await tx.put(paths.usage(tenantId), encodeRecord(next), { ifVersion: entry?.version ?? 0 });
      return next;
    } catch (e) {
      if (!(e instanceof StoreConflictError) || attempt >= 50) throw e;
    }
  }
}
