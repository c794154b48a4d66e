import { randomBytes, randomInt } from 'node:crypto';
import { zeroize } from '../crypto/index.js';
import { KeywardError } from '../errors/index.js';
import { StoreConflictError, type Barrier, type BarrierWriter } from '../barrier/index.js';
import { BoundedCache, type CacheLimits } from './cache.js';
import type { Clock } from './clock.js';
import { deriveTenantMasterKey } from './material.js';
import { paths } from './paths.js';
import { withCasRetry } from './retry.js';
import { decodeRecord, encodeRecord } from './records.js';
import type { Tenant } from './types.js';

export const DEFAULT_TENANT = 'default';
const TENANT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function checkTenantId(id: string): void {
  if (!TENANT_ID.test(id)) {
    throw new KeywardError('ValidationException', "Tenant id must be 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit.");
  }
}

interface MasterKey { key: Buffer }

/** Tenants and their master keys (derived on demand, cached, zeroized when dropped). */
export class Tenants {
  private readonly records: BoundedCache<Tenant>;
  private readonly masterKeys: BoundedCache<MasterKey>;

  constructor(private readonly barrier: Barrier, private readonly clock: Clock, limits: CacheLimits) {
    this.records = new BoundedCache(limits);
    this.masterKeys = new BoundedCache(limits, (m) => zeroize(m.key));
  }

  /** Creates a tenant; with `tx`, inside the caller's transaction. */
  async create(id: string, tx: BarrierWriter = this.barrier): Promise<Tenant> {
    checkTenantId(id);
    const tenant: Tenant = {
      id,
      accountId: String(randomInt(100_000_000_000, 999_999_999_999)),
      salt: randomBytes(32).toString('base64'),
      createdAt: this.clock().toISOString(),
    };
    try {
      await tx.put(paths.tenant(id), encodeRecord(tenant), { ifVersion: 0 });
    } catch (e) {
      if (e instanceof StoreConflictError) throw new KeywardError('AlreadyExistsException', `Tenant ${id} already exists.`);
      throw e;
    }
    return tenant;
  }

  async find(id: string): Promise<Tenant | undefined> {
    return this.records.get(id, async () => {
      const entry = await this.barrier.get(paths.tenant(id));
      return entry === undefined ? undefined : decodeRecord<Tenant>(entry);
    });
  }

  async require(id: string): Promise<Tenant> {
    const t = await this.find(id);
    if (t === undefined) throw new KeywardError('NotFoundException', `Tenant ${id} does not exist.`);
    return t;
  }

  async list(after?: string, limit?: number): Promise<{ tenants: Tenant[]; next?: string }> {
    const page = await this.barrier.list(paths.tenants(), { ...(after !== undefined ? { after } : {}), ...(limit !== undefined ? { limit } : {}) });
    const tenants = page.entries.map((e) => decodeRecord<Tenant>(e));
    return page.next === undefined ? { tenants } : { tenants, next: page.next };
  }

  /** Changes a tenant record under compare-and-set (retried on conflict); `change` may throw. */
  async update(id: string, change: (tenant: Tenant) => Tenant): Promise<Tenant> {
    const updated = await withCasRetry(async () => {
      const entry = await this.barrier.get(paths.tenant(id));
      if (entry === undefined) throw new KeywardError('NotFoundException', `Tenant ${id} does not exist.`);
      const next = change(decodeRecord<Tenant>(entry));
      await this.barrier.put(paths.tenant(id), encodeRecord(next), { ifVersion: entry.version });
      return next;
    });
    this.records.delete(id);
    return updated;
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

  clear(): void {
    this.records.clear();
    this.masterKeys.clear();
  }
}
