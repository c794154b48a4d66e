import { createHash } from 'node:crypto';
import { KeywardError } from '../errors/index.js';
import { StoreConflictError, type Barrier } from '../barrier/index.js';
import { randomBytes } from '../crypto/index.js';
import { BoundedCache, type CacheLimits } from './cache.js';
import { paths } from './paths.js';
import { decodeRecord, encodeRecord } from './records.js';
import type { GrantRecord, Tenant } from './types.js';

/** AWS: grants per KMS key. */
export const MAX_GRANTS_PER_KEY = 50000;
const GRANT_ID = /^[0-9a-f]{64}$/;
const TOKEN_PREFIX = 'kwgt1.';

/**
 * Grants of keys, one record per grant under grants/<tenant>/<key>/. Each key's grants are cached
 * together and dropped by the store's change feed (this node's writes at once, other nodes' as
 * their notifications arrive), so authorisation reads no store on the hot path. A grant token
 * names its grant, which is then read from the store directly: usable at once on any node that
 * can read the store, before any cache has heard of it.
 */
export class Grants {
  private readonly cache: BoundedCache<{ grants: GrantRecord[] }>;

  constructor(private readonly barrier: Barrier, limits: CacheLimits) {
    this.cache = new BoundedCache(limits);
  }

  /**
   * Stores a new grant. With a Name the grant id is derived from the grant's parameters, so
   * repeating the same request (on any node) returns the same grant instead of a duplicate.
   */
  async create(tenant: Tenant, grant: Omit<GrantRecord, 'grantId' | 'tenantId'>): Promise<GrantRecord> {
    const grantId = grant.name === undefined ? randomBytes(32).toString('hex') : derivedGrantId(tenant.id, grant);
    const record: GrantRecord = { tenantId: tenant.id, grantId, ...grant };
    const path = paths.grant(tenant.id, grant.keyId, grantId);
    try {
      await this.barrier.transaction(async (tx) => {
        if (grant.name !== undefined && await tx.get(path) !== undefined) throw new StoreConflictError(path);
        let count = 0;
        for (let after: string | undefined; ;) {
          const page = await tx.list(paths.grants(tenant.id, grant.keyId), { ...(after !== undefined ? { after } : {}), limit: 1000 });
          count += page.entries.length;
          if (page.next === undefined) break;
          after = page.next;
        }
        if (count >= MAX_GRANTS_PER_KEY) throw new KeywardError('LimitExceededException', `The key already has ${MAX_GRANTS_PER_KEY} grants, the limit per key.`);
        await tx.put(path, encodeRecord(record), { ifVersion: 0 });
      });
    } catch (e) {
      if (!(e instanceof StoreConflictError) || grant.name === undefined) throw e;
      const existing = await this.barrier.get(path);
      if (existing === undefined) throw e;
      return decodeRecord<GrantRecord>(existing);
    } finally {
      this.invalidate(tenant.id, grant.keyId);
    }
    return record;
  }

  /** Every grant of the key (cached; follows the change feed). */
  async forKey(tenant: Tenant, keyId: string): Promise<readonly GrantRecord[]> {
    const entry = await this.cache.get(`${tenant.id}/${keyId}`, async () => ({ grants: await this.readAll(paths.grants(tenant.id, keyId)) }));
    return entry?.grants ?? [];
  }

  /** One grant, read from the store (grant tokens, RetireGrant, RevokeGrant). */
  async find(tenant: Tenant, keyId: string, grantId: string): Promise<GrantRecord | undefined> {
    if (!GRANT_ID.test(grantId)) return undefined;
    const entry = await this.barrier.get(paths.grant(tenant.id, keyId, grantId));
    return entry === undefined ? undefined : decodeRecord<GrantRecord>(entry);
  }

  /** Every grant of the tenant whose retiring principal is `arn` (ListRetirableGrants). */
  async retirableBy(tenant: Tenant, arn: string): Promise<GrantRecord[]> {
    return (await this.readAll(paths.tenantGrants(tenant.id))).filter((g) => g.retiringPrincipal === arn);
  }

  async delete(tenant: Tenant, keyId: string, grantId: string): Promise<boolean> {
    try {
      return await this.barrier.delete(paths.grant(tenant.id, keyId, grantId));
    } finally {
      this.invalidate(tenant.id, keyId);
    }
  }

  invalidate(tenantId: string, keyId: string): void {
    this.cache.delete(`${tenantId}/${keyId}`);
  }

  clear(): void {
    this.cache.clear();
  }

  private async readAll(prefix: string): Promise<GrantRecord[]> {
    const out: GrantRecord[] = [];
    for (let after: string | undefined; ;) {
      const page = await this.barrier.list(prefix, { ...(after !== undefined ? { after } : {}), limit: 1000 });
      for (const e of page.entries) out.push(decodeRecord<GrantRecord>(e));
      if (page.next === undefined) return out;
      after = page.next;
    }
  }
}

export function isGrantId(s: string): boolean {
  return GRANT_ID.test(s);
}

/** A grant token: names its key and grant (not a secret; it makes a new grant usable at once). */
export function grantToken(grant: GrantRecord): string {
  return TOKEN_PREFIX + Buffer.from(JSON.stringify({ k: grant.keyId, g: grant.grantId, n: randomBytes(8).toString('hex') })).toString('base64url');
}

/** The key and grant a token names; InvalidGrantTokenException if it is not one Keyward issued. */
export function readGrantToken(token: string): { keyId: string; grantId: string } {
  const bad = () => new KeywardError('InvalidGrantTokenException', 'The grant token is not valid.');
  if (!token.startsWith(TOKEN_PREFIX)) throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token.slice(TOKEN_PREFIX.length), 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  const t = parsed as { k?: unknown; g?: unknown };
  if (typeof t.k !== 'string' || typeof t.g !== 'string' || !GRANT_ID.test(t.g) || !/^[0-9a-f-]{36}$/.test(t.k)) throw bad();
  return { keyId: t.k, grantId: t.g };
}

function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
}

function derivedGrantId(tenantId: string, grant: Omit<GrantRecord, 'grantId' | 'tenantId'>): string {
  const { createdAt: _createdAt, issuer: _issuer, ...params } = grant;
  return createHash('sha256').update(`keyward/grant/v1|${tenantId}|${canonical({ ...params, operations: [...params.operations].sort() })}`).digest('hex');
}
