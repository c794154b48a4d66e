import { randomId, zeroize } from '../crypto/index.js';
import { KeywardError } from '../errors/index.js';
import type { Barrier, BarrierWriter } from '../barrier/index.js';
import { BoundedCache, type CacheLimits } from './cache.js';
import { addDays, type Clock } from './clock.js';
import { keyArn } from './key-ref.js';
import { isExpired, requireEnabled } from './key-state.js';
import { newMaterial, unwrapMaterial, wrapMaterial, type MaterialRef } from './material.js';
import { keySchedulePaths, paths } from './paths.js';
import { decodeRecord, encodeRecord, reconcileIndex } from './records.js';
import { withCasRetry } from './retry.js';
import type { Tenants } from './tenants.js';
import { adjustUsage } from './usage.js';
import type { KeyRecord, KeyVersion, RotationType, Tenant, VersionState } from './types.js';

export interface KeysOptions {
  readonly region: string;
  readonly records: CacheLimits;
  readonly material: CacheLimits;
}

export interface NewKey {
  readonly description: string;
  readonly tags: Readonly<Record<string, string>>;
}

interface CachedMaterial { readonly key: Buffer }

/**
 * Keys, their versions and version material. Every state change is one transaction with
 * compare-and-set on the key record, so concurrent changes (on any node) apply in some serial
 * order: a key always has exactly one primary version, and a version exists fully or not at all.
 */
export class Keys {
  private readonly records: BoundedCache<KeyRecord>;
  private readonly materials: BoundedCache<CachedMaterial>;

  constructor(
    private readonly barrier: Barrier,
    private readonly tenants: Tenants,
    private readonly clock: Clock,
    private readonly options: KeysOptions,
  ) {
    this.records = new BoundedCache(options.records);
    this.materials = new BoundedCache(options.material, (m) => zeroize(m.key));
  }

  arn(tenant: Tenant, keyId: string): string {
    return keyArn(this.options.region, tenant, keyId);
  }

  async create(tenant: Tenant, input: NewKey): Promise<KeyRecord> {
    const now = this.clock().toISOString();
    const keyId = randomId();
    const key: KeyRecord = {
      tenantId: tenant.id,
      keyId,
      description: input.description,
      keyState: 'Enabled',
      keySpec: 'SYMMETRIC_DEFAULT',
      keyUsage: 'ENCRYPT_DECRYPT',
      origin: 'AWS_KMS',
      createdAt: now,
      primaryVersion: 1,
      versions: [{ version: 1, state: 'Enabled', createdAt: now, rotationType: 'INITIAL' }],
      rotation: { enabled: false, periodDays: 365 },
      tags: input.tags,
    };
    await this.barrier.transaction(async (tx) => {
      await adjustUsage(tx, tenant.id, { keys: 1 }, (t) => this.tenants.quotas(t));
      await this.putMaterial(tx, tenant, keyId, 1);
      await tx.put(paths.key(tenant.id, keyId), encodeRecord(key), { ifVersion: 0 });
    });
    return key;
  }

  /** The key, or undefined if it does not exist; a key past its deletion window is purged here. */
  async find(tenant: Tenant, keyId: string): Promise<KeyRecord | undefined> {
    const key = await this.records.get(`${tenant.id}/${keyId}`, async () => {
      const entry = await this.barrier.get(paths.key(tenant.id, keyId));
      return entry === undefined ? undefined : decodeRecord<KeyRecord>(entry);
    });
    if (key !== undefined && isExpired(key, this.clock())) {
      await this.purge(tenant, keyId);
      return undefined;
    }
    return key;
  }

  async require(tenant: Tenant, keyId: string): Promise<KeyRecord> {
    const key = await this.find(tenant, keyId);
    if (key === undefined) throw new KeywardError('NotFoundException', `Key '${this.arn(tenant, keyId)}' does not exist`);
    return key;
  }

  async list(tenant: Tenant, after: string | undefined, limit: number): Promise<{ keys: KeyRecord[]; next?: string }> {
    const page = await this.barrier.list(paths.keys(tenant.id), { ...(after !== undefined ? { after } : {}), limit });
    const now = this.clock();
    const keys = page.entries.map((e) => decodeRecord<KeyRecord>(e)).filter((k) => !isExpired(k, now));
    return page.next === undefined ? { keys } : { keys, next: page.next };
  }

  /**
   * Applies `change` to the current record under compare-and-set, retrying on conflict. `change`
   * may throw (state checks) or return the same object (no write). Schedule entries follow.
   */
  async update(tenant: Tenant, keyId: string, change: (key: KeyRecord, now: Date) => KeyRecord, extra?: (tx: BarrierWriter, before: KeyRecord, after: KeyRecord) => Promise<void>): Promise<KeyRecord> {
    return withCasRetry(() => this.barrier.transaction(async (tx) => {
      const path = paths.key(tenant.id, keyId);
      const entry = await tx.get(path);
      const now = this.clock();
      const before = entry === undefined ? undefined : decodeRecord<KeyRecord>(entry);
      if (entry === undefined || before === undefined || isExpired(before, now)) {
        throw new KeywardError('NotFoundException', `Key '${this.arn(tenant, keyId)}' does not exist`);
      }
      const after = change(before, now);
      if (after === before) return before;
      await extra?.(tx, before, after);
      await tx.put(path, encodeRecord(after), { ifVersion: entry.version });
      await reconcileSchedule(tx, before, after);
      return after;
    })).then((k) => {
      this.records.delete(`${tenant.id}/${keyId}`);
      return k;
    });
  }

  /** Adds a version and makes it primary. Concurrent rotations serialise: one primary, always. */
  async rotate(tenant: Tenant, keyId: string, type: Exclude<RotationType, 'INITIAL'>): Promise<KeyRecord> {
    return (await this.addVersion(tenant, keyId, type, false)).key;
  }

  /** Automatic rotation: rotates only if still due when the transaction runs (once across nodes). */
  async rotateIfDue(tenant: Tenant, keyId: string): Promise<boolean> {
    return (await this.addVersion(tenant, keyId, 'AUTOMATIC', true)).rotated;
  }

  private async addVersion(tenant: Tenant, keyId: string, type: Exclude<RotationType, 'INITIAL'>, onlyIfDue: boolean): Promise<{ key: KeyRecord; rotated: boolean }> {
    let newVersion = 0;
    const key = await this.update(tenant, keyId, (key, now) => {
      newVersion = 0;
      if (onlyIfDue) {
        const at = key.rotation.nextRotationAt;
        if (key.keyState !== 'Enabled' || !key.rotation.enabled || at === undefined || Date.parse(at) > now.getTime()) return key;
      }
      requireEnabled(key, this.arn(tenant, keyId));
      newVersion = Math.max(...key.versions.map((v) => v.version)) + 1;
      const at = now.toISOString();
      return {
        ...key,
        primaryVersion: newVersion,
        versions: [...key.versions, { version: newVersion, state: 'Enabled', createdAt: at, rotationType: type }],
        rotation: key.rotation.enabled
          ? { ...key.rotation, nextRotationAt: addDays(now, key.rotation.periodDays).toISOString() }
          : key.rotation,
      };
    }, async (tx) => this.putMaterial(tx, tenant, keyId, newVersion));
    return { key, rotated: newVersion !== 0 };
  }

  /** Enables, disables or destroys one version (never the primary). Destroying deletes its material. */
  setVersionState(tenant: Tenant, keyId: string, version: number, state: VersionState): Promise<KeyRecord> {
    return this.update(tenant, keyId, (key, now) => {
      const arn = this.arn(tenant, keyId);
      const current = key.versions.find((v) => v.version === version);
      if (current === undefined) throw new KeywardError('NotFoundException', `Version ${version} of key '${arn}' does not exist`);
      if (current.state === state) return key;
      if (version === key.primaryVersion) {
        throw new KeywardError('KMSInvalidStateException', `Version ${version} is the primary version of ${arn}; rotate the key first.`);
      }
      if (current.state === 'Destroyed') {
        throw new KeywardError('KMSInvalidStateException', `Version ${version} of ${arn} is destroyed.`);
      }
      const next: KeyVersion = state === 'Destroyed'
        ? { ...current, state, destroyedAt: now.toISOString() }
        : { ...current, state };
      return { ...key, versions: key.versions.map((v) => (v.version === version ? next : v)) };
    }, async (tx, _before, after) => {
      if (after.versions.find((v) => v.version === version)?.state === 'Destroyed') {
        await tx.delete(paths.material(tenant.id, keyId, version));
      }
    }).then((k) => {
      this.materials.delete(`${tenant.id}/${keyId}/${version}`);
      return k;
    });
  }

  /**
   * The unwrapped material of a version, or undefined if it is gone (destroyed, deleted).
   * The buffer belongs to the cache: use it before the next await, never keep it.
   */
  async material(tenant: Tenant, keyId: string, version: number): Promise<Buffer | undefined> {
    const cached = await this.materials.get(`${tenant.id}/${keyId}/${version}`, async () => {
      const entry = await this.barrier.get(paths.material(tenant.id, keyId, version));
      if (entry === undefined) return undefined;
      const { wrapped } = decodeRecord<{ wrapped: string }>(entry);
      const tmk = await this.tenants.masterKey(tenant);
      return { key: unwrapMaterial(tmk, materialRef(tenant, keyId, version), wrapped) };
    });
    return cached?.key;
  }

  /** Deletes a key whose deletion window has passed: record, every version's material, aliases. */
  async purge(tenant: Tenant, keyId: string): Promise<boolean> {
    const purged = await withCasRetry(() => this.barrier.transaction(async (tx) => {
      const entry = await tx.get(paths.key(tenant.id, keyId));
      if (entry === undefined) return false;
      const key = decodeRecord<KeyRecord>(entry);
      if (!isExpired(key, this.clock())) return false;
      await adjustUsage(tx, tenant.id, { keys: -1 }, (t) => this.tenants.quotas(t));
      for (const v of key.versions) await tx.delete(paths.material(tenant.id, keyId, v.version));
      for (let after: string | undefined; ;) {
        const page = await tx.list(paths.aliases(tenant.id), { ...(after !== undefined ? { after } : {}), limit: 1000 });
        for (const a of page.entries) {
          if (decodeRecord<{ targetKeyId: string }>(a).targetKeyId === keyId) await tx.delete(a.path);
        }
        if (page.next === undefined) break;
        after = page.next;
      }
      await reconcileSchedule(tx, key, undefined);
      await tx.delete(paths.key(tenant.id, keyId), { ifVersion: entry.version });
      return true;
    }));
    this.invalidate(tenant.id, keyId);
    return purged;
  }

  invalidate(tenantId: string, keyId: string): void {
    this.records.delete(`${tenantId}/${keyId}`);
    this.materials.deletePrefix(`${tenantId}/${keyId}/`);
  }

  invalidateMaterial(tenantId: string, keyId: string, version: number): void {
    this.materials.delete(`${tenantId}/${keyId}/${version}`);
  }

  clear(): void {
    this.records.clear();
    this.materials.clear();
  }

  get cachedMaterialCount(): number {
    return this.materials.size;
  }

  private async putMaterial(tx: BarrierWriter, tenant: Tenant, keyId: string, version: number): Promise<void> {
    const material = newMaterial();
    try {
      const tmk = await this.tenants.masterKey(tenant);
      const wrapped = wrapMaterial(tmk, materialRef(tenant, keyId, version), material);
      await tx.put(paths.material(tenant.id, keyId, version), encodeRecord({ wrapped }), { ifVersion: 0 });
    } finally {
      zeroize(material);
    }
  }
}

function materialRef(tenant: Tenant, keyId: string, version: number): MaterialRef {
  return { tenantId: tenant.id, keyId, version, purpose: 'ENCRYPT_DECRYPT' };
}

async function reconcileSchedule(tx: BarrierWriter, before: KeyRecord | undefined, after: KeyRecord | undefined): Promise<void> {
  await reconcileIndex(tx, before === undefined ? [] : keySchedulePaths(before), after === undefined ? [] : keySchedulePaths(after));
}
