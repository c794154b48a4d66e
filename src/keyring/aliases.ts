import { KeywardError, quote } from '../errors/index.js';
import { StoreConflictError, type Barrier, type BarrierWriter } from '../barrier/index.js';
import { aliasArn } from './key-ref.js';
import { BoundedCache, type CacheLimits, type CacheStats } from './cache.js';
import type { Clock } from './clock.js';
import { paths } from './paths.js';
import { decodeRecord, encodeRecord } from './records.js';
import { withCasRetry } from './retry.js';
import type { AliasRecord, Tenant } from './types.js';

const ALIAS_NAME = /^alias\/[a-zA-Z0-9/_-]+$/;

export function checkAliasName(name: string): void {
  if (name.length > 256 || !ALIAS_NAME.test(name)) {
    throw new KeywardError('ValidationException', "AliasName must be 'alias/' followed by 1-250 characters of a-z, A-Z, 0-9, '/', '_' and '-'.");
  }
  if (name.startsWith('alias/aws/')) {
    throw new KeywardError('InvalidAliasNameException', `Alias ${quote(name)} is reserved: names beginning with alias/aws/ belong to AWS managed keys.`);
  }
  // alias//x, alias/x/ and the like: an empty name part, which AWS refuses as not a valid alias name
  if (name.slice('alias/'.length).split('/').some((part) => part === '')) {
    throw new KeywardError('InvalidAliasNameException', `Alias ${quote(name)} is not a valid alias name: it has an empty part between slashes (or ends with a slash).`);
  }
}

/** Aliases: friendly names pointing at one key each, per tenant. */
export class Aliases {
  private readonly cache: BoundedCache<AliasRecord>;

  /** `region`: alias errors name the alias ARN, as AWS's do. */
  constructor(private readonly barrier: Barrier, private readonly clock: Clock, limits: CacheLimits, private readonly region = 'us-east-1') {
    this.cache = new BoundedCache(limits);
  }

  /** Creates an alias; with `within`, inside the caller's transaction. */
  async create(tenant: Tenant, aliasName: string, targetKeyId: string, within?: BarrierWriter): Promise<AliasRecord> {
    checkAliasName(aliasName);
    const now = this.clock().toISOString();
    const record: AliasRecord = { tenantId: tenant.id, aliasName, targetKeyId, createdAt: now, updatedAt: now };
    try {
      await (within ?? this.barrier).put(paths.alias(tenant.id, aliasName), encodeRecord(record), { ifVersion: 0 });
    } catch (e) {
      if (e instanceof StoreConflictError) throw new KeywardError('AlreadyExistsException', `An alias with the name ${aliasArn(this.region, tenant, aliasName)} already exists`);
      throw e;
    }
    this.invalidate(tenant.id, aliasName);
    return record;
  }

  async update(tenant: Tenant, aliasName: string, targetKeyId: string): Promise<AliasRecord> {
    checkAliasName(aliasName);
    const record = await withCasRetry(async () => {
      const path = paths.alias(tenant.id, aliasName);
      const entry = await this.barrier.get(path);
      if (entry === undefined) throw this.notFound(tenant, aliasName);
      const next: AliasRecord = { ...decodeRecord<AliasRecord>(entry), targetKeyId, updatedAt: this.clock().toISOString() };
      await this.barrier.put(path, encodeRecord(next), { ifVersion: entry.version });
      return next;
    });
    this.invalidate(tenant.id, aliasName);
    return record;
  }

  async delete(tenant: Tenant, aliasName: string): Promise<void> {
    checkAliasName(aliasName);
    const deleted = await this.barrier.delete(paths.alias(tenant.id, aliasName));
    this.invalidate(tenant.id, aliasName);
    if (!deleted) throw this.notFound(tenant, aliasName);
  }

  async find(tenant: Tenant, aliasName: string): Promise<AliasRecord | undefined> {
    if (aliasName.length > 256) return undefined;
    return this.cache.get(`${tenant.id}/${aliasName}`, async () => {
      const entry = await this.barrier.get(paths.alias(tenant.id, aliasName));
      return entry === undefined ? undefined : decodeRecord<AliasRecord>(entry);
    });
  }

  async list(tenant: Tenant, after: string | undefined, limit: number, keyId?: string): Promise<{ aliases: AliasRecord[]; next?: string }> {
    const aliases: AliasRecord[] = [];
    let cursor = after;
    // With a KeyId filter, keep reading pages until the page is full or the aliases run out.
    for (;;) {
      const page = await this.barrier.list(paths.aliases(tenant.id), { ...(cursor !== undefined ? { after: cursor } : {}), limit });
      for (const e of page.entries) {
        const a = decodeRecord<AliasRecord>(e);
        if (keyId === undefined || a.targetKeyId === keyId) aliases.push(a);
        cursor = e.path;
        if (aliases.length === limit) {
          const more = page.next !== undefined || e !== page.entries[page.entries.length - 1];
          return more ? { aliases, next: e.path } : { aliases };
        }
      }
      if (page.next === undefined) return { aliases };
    }
  }

  notFound(tenant: Tenant, aliasName: string): KeywardError {
    return new KeywardError('NotFoundException', `Alias ${aliasArn(this.region, tenant, aliasName)} is not found.`);
  }

  invalidate(tenantId: string, aliasName: string): void {
    this.cache.delete(`${tenantId}/${aliasName}`);
  }

  /** Size and hit counts of the alias cache (metrics). */
  cacheStats(): Record<string, CacheStats> {
    return { alias: this.cache.stats() };
  }

  clear(): void {
    this.cache.clear();
  }
}
