import { randomBytes } from 'node:crypto';
import { constantTimeEqual, randomToken, sha256 } from '../crypto/index.js';
import { KeywardError, quote } from '../errors/index.js';
import { StoreConflictError, type Barrier, type BarrierWriter } from '../barrier/index.js';
import { BoundedCache, type CacheLimits, type CacheStats } from './cache.js';
import type { Clock } from './clock.js';
import { paths } from './paths.js';
import { decodePrincipal, encodePrincipal, newSecret, wipePrincipal } from './principal-record.js';
import { decodeRecord, encodeRecord } from './records.js';
import type { Tenants } from './tenants.js';
import type { CredentialIndex, PrincipalRecord, Role, Tenant } from './types.js';
import { adjustUsage } from './usage.js';

const NAME = /^[A-Za-z0-9+=,.@_-]{1,64}$/;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const TOKEN = /^kw\.([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$/;

/** Credentials handed out once, at creation; Keyward keeps only the SigV4 secret (encrypted) and a token hash. */
export interface IssuedCredentials {
  readonly accessKeyId: string;
  /** The secret's text as bytes (a copy the caller may zero once it has answered it). */
  readonly secretAccessKey: Buffer;
  readonly token: string;
}

export function checkPrincipalName(name: string): void {
  if (!NAME.test(name)) {
    throw new KeywardError('ValidationException', 'Principal name must be 1-64 characters of A-Z, a-z, 0-9 and +=,.@_-');
  }
}

function accessKeyId(): string {
  const bytes = randomBytes(18);
  let id = 'KW';
  for (const b of bytes) id += BASE32[b & 31];
  return id;
}

/** Principals (identities of a tenant) and the lookup of their credentials. */
export class Principals {
  private readonly byCredential: BoundedCache<PrincipalRecord>;

  constructor(private readonly barrier: Barrier, private readonly clock: Clock, limits: CacheLimits, private readonly tenants: Tenants) {
    this.byCredential = new BoundedCache(limits, wipePrincipal);
  }

  /** Creates a principal and its credential indexes; with `within`, inside the caller's transaction. */
  async create(tenant: Tenant, name: string, role: Role, within?: BarrierWriter): Promise<{ principal: PrincipalRecord; credentials: IssuedCredentials }> {
    checkPrincipalName(name);
    const tokenId = randomBytes(8).toString('hex');
    const tokenSecret = randomToken(32);
    const principal: PrincipalRecord = {
      tenantId: tenant.id,
      name,
      role,
      accessKeyId: accessKeyId(),
      secretAccessKey: newSecret(),
      tokenId,
      tokenHash: sha256(tokenSecret).toString('hex'),
      createdAt: this.clock().toISOString(),
    };
    const index: CredentialIndex = { tenantId: tenant.id, name };
    const stored = encodePrincipal(principal);
    try {
      const write = async (tx: BarrierWriter) => {
        await adjustUsage(tx, tenant.id, { principals: 1 }, (t) => this.tenants.quotas(t));
        await tx.put(paths.principal(tenant.id, name), stored, { ifVersion: 0 });
        await tx.put(paths.accessKey(principal.accessKeyId), encodeRecord(index), { ifVersion: 0 });
        await tx.put(paths.token(tokenId), encodeRecord(index), { ifVersion: 0 });
      };
      await (within ? write(within) : this.barrier.transaction(write));
    } catch (e) {
      wipePrincipal(principal);
      if (e instanceof StoreConflictError) throw new KeywardError('AlreadyExistsException', `Principal ${quote(name)} already exists in tenant ${tenant.id}.`);
      throw e;
    } finally {
      stored.fill(0);
    }
    // the caller answers the secret once and zeroes it; the record keeps no usable copy
    const secretAccessKey = Buffer.from(principal.secretAccessKey);
    wipePrincipal(principal);
    return {
      principal,
      credentials: { accessKeyId: principal.accessKeyId, secretAccessKey, token: `kw.${tokenId}.${tokenSecret}` },
    };
  }

  async find(tenantId: string, name: string): Promise<PrincipalRecord | undefined> {
    const entry = await this.barrier.get(paths.principal(tenantId, name));
    return entry === undefined ? undefined : decodePrincipal(entry);
  }

  async list(tenantId: string, after: string | undefined, limit: number): Promise<{ principals: PrincipalRecord[]; next?: string }> {
    const page = await this.barrier.list(paths.principals(tenantId), { ...(after !== undefined ? { after } : {}), limit });
    // listed for their names and ids: the secrets are zeroed at once
    const principals = page.entries.map((e) => decodePrincipal(e));
    for (const p of principals) wipePrincipal(p);
    return page.next === undefined ? { principals } : { principals, next: page.next };
  }

  async delete(tenantId: string, name: string): Promise<void> {
    const deleted = await this.barrier.transaction(async (tx) => {
      const entry = await tx.get(paths.principal(tenantId, name));
      if (entry === undefined) return undefined;
      const p = decodePrincipal(entry);
      wipePrincipal(p);
      await adjustUsage(tx, tenantId, { principals: -1 }, (t) => this.tenants.quotas(t));
      await tx.delete(paths.accessKey(p.accessKeyId));
      await tx.delete(paths.token(p.tokenId));
      await tx.delete(entry.path, { ifVersion: entry.version });
      return p;
    });
    if (deleted === undefined) throw new KeywardError('NotFoundException', `Principal ${quote(name)} does not exist in tenant ${tenantId}.`);
    this.byCredential.delete(`ak/${deleted.accessKeyId}`);
    this.byCredential.delete(`tk/${deleted.tokenId}`);
    this.byCredential.delete(`nm/${tenantId}/${name}`);
  }

  /** The principal owning a SigV4 access key id, or undefined. */
  byAccessKeyId(id: string): Promise<PrincipalRecord | undefined> {
    if (id.length > 128) return Promise.resolve(undefined);
    return this.byCredential.get(`ak/${id}`, () => this.follow(paths.accessKey(id)));
  }

  /** byAccessKeyId when the principal is in the cache, without a promise; undefined otherwise (then call byAccessKeyId). */
  cachedByAccessKeyId(id: string): PrincipalRecord | undefined {
    return id.length > 128 ? undefined : this.byCredential.cached(`ak/${id}`);
  }

  /** The principal a bearer token authenticates, or undefined (secret compared in constant time). */
  async byToken(token: string): Promise<PrincipalRecord | undefined> {
    const m = TOKEN.exec(token);
    if (!m) return undefined;
    const [, tokenId = '', secret = ''] = m;
    const p = await this.byCredential.get(`tk/${tokenId}`, () => this.follow(paths.token(tokenId)));
    if (p === undefined) return undefined;
    return constantTimeEqual(sha256(secret), Buffer.from(p.tokenHash, 'hex')) ? p : undefined;
  }

  /** The principal a listener is bound to (cached like a credential, dropped on any principal change). */
  byName(tenantId: string, name: string): Promise<PrincipalRecord | undefined> {
    return this.byCredential.get(`nm/${tenantId}/${name}`, () => this.find(tenantId, name));
  }

  /** Drops cached credentials (a principal or credential record changed here or on another node). */
  /** Size and hit counts of the credential cache (metrics). */
  cacheStats(): Record<string, CacheStats> {
    return { principal: this.byCredential.stats() };
  }

  invalidate(): void {
    this.byCredential.clear();
  }

  private async follow(indexPath: string): Promise<PrincipalRecord | undefined> {
    const entry = await this.barrier.get(indexPath);
    if (entry === undefined) return undefined;
    const idx = decodeRecord<CredentialIndex>(entry);
    const p = await this.find(idx.tenantId, idx.name);
    // An index that points at a principal with other credentials is stale or forged: ignore it.
    if (p !== undefined && (paths.accessKey(p.accessKeyId) === indexPath || paths.token(p.tokenId) === indexPath)) return p;
    if (p !== undefined) wipePrincipal(p);
    return undefined;
  }
}
