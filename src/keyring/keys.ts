import { loadAsymmetricLibraries, PrivateKeyHandle, randomId, zeroize } from '../crypto/index.js';
import { KeywardError } from '../errors/index.js';
import type { Barrier, BarrierWriter } from '../barrier/index.js';
import { BoundedCache, type CacheLimits, type CacheStats } from './cache.js';
import { addDays, type Clock } from './clock.js';
import { keyArn } from './key-ref.js';
import { isExpired, requireEnabled } from './key-state.js';
import type { ExpirationModel, SupportedKeySpec, SupportedKeyUsage, SupportedOrigin } from './key-specs.js';
import { asymmetricTypeOf, keyMaterialId, publicKeyDer, materialPurpose, newMaterial, unwrapMaterial, wrapMaterial, type MaterialRef } from './material.js';
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
  readonly keySpec?: SupportedKeySpec;
  readonly keyUsage?: SupportedKeyUsage;
  readonly origin?: SupportedOrigin;
  /** Usage-bounded rotation: at most this many encryptions per version (scope keys). */
  readonly maxEncryptions?: number;
  /** The key policy (already checked by the caller); absent: the default policy. */
  readonly policy?: string;
}

/** How long imported material lasts (ImportKeyMaterial's ExpirationModel and ValidTo). */
export interface MaterialExpiry {
  readonly expirationModel: ExpirationModel;
  readonly validTo?: string;
}

/** Unwrapped material; an asymmetric key's parsed private key is made once and kept beside it. */
interface CachedMaterial {
  readonly key: Buffer;
  handle?: PrivateKeyHandle;
}

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
    this.materials = new BoundedCache(options.material, (m) => {
      zeroize(m.key);
      m.handle?.destroy();
    });
  }

  arn(tenant: Tenant, keyId: string): string {
    return keyArn(this.options.region, tenant, keyId);
  }

  /**
   * A new key. Origin EXTERNAL keys start PendingImport, without material; others get theirs now
   * (an RSA key is generated off the event loop, before the transaction). `also` writes more
   * records (an alias) in the same transaction.
   */
  async create(tenant: Tenant, input: NewKey, also?: (tx: BarrierWriter, key: KeyRecord) => Promise<unknown>): Promise<KeyRecord> {
    const keySpec = input.keySpec ?? 'SYMMETRIC_DEFAULT';
    const external = input.origin === 'EXTERNAL';
    const material = external ? undefined : await newMaterial(keySpec);
    try {
      const now = this.clock().toISOString();
      const keyId = randomId();
      const publicKey = material === undefined ? undefined : await publicKeyOf(keySpec, material);
      const key: KeyRecord = {
        tenantId: tenant.id,
        keyId,
        description: input.description,
        keyState: external ? 'PendingImport' : 'Enabled',
        keySpec,
        keyUsage: input.keyUsage ?? 'ENCRYPT_DECRYPT',
        origin: input.origin ?? 'AWS_KMS',
        ...(publicKey !== undefined ? { publicKey } : {}),
        createdAt: now,
        primaryVersion: 1,
        versions: [{ version: 1, state: 'Enabled', createdAt: now, rotationType: 'INITIAL' }],
        rotation: { enabled: false, periodDays: 365 },
        tags: input.tags,
        ...(input.maxEncryptions !== undefined ? { maxEncryptions: input.maxEncryptions } : {}),
        ...(input.policy !== undefined ? { policy: input.policy } : {}),
      };
      await this.barrier.transaction(async (tx) => {
        await adjustUsage(tx, tenant.id, { keys: 1 }, (t) => this.tenants.quotas(t));
        if (material !== undefined) await this.putMaterial(tx, tenant, key, 1, material);
        await tx.put(paths.key(tenant.id, keyId), encodeRecord(key), { ifVersion: 0 });
        await also?.(tx, key);
      });
      return key;
    } finally {
      zeroize(material);
    }
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
    if (key !== undefined && materialExpired(key, this.clock())) return this.expireMaterial(tenant, keyId);
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
    return (await this.addVersion(tenant, keyId, type, () => true)).key;
  }

  /** Automatic rotation: rotates only if still due when the transaction runs (once across nodes). */
  async rotateIfDue(tenant: Tenant, keyId: string): Promise<boolean> {
    return (await this.addVersion(tenant, keyId, 'AUTOMATIC', (key, now) => {
      const at = key.rotation.nextRotationAt;
      return key.keyState === 'Enabled' && key.rotation.enabled && at !== undefined && Date.parse(at) <= now.getTime();
    })).rotated;
  }

  /**
   * Usage-bounded rotation: rotates only if `version` is still the primary when the transaction
   * runs, so nodes that find it used up at the same time add one version, not several.
   */
  async rotateIfPrimary(tenant: Tenant, keyId: string, version: number): Promise<KeyRecord> {
    return (await this.addVersion(tenant, keyId, 'AUTOMATIC', (key) => key.primaryVersion === version)).key;
  }

  private async addVersion(tenant: Tenant, keyId: string, type: Exclude<RotationType, 'INITIAL'>, when: (key: KeyRecord, now: Date) => boolean): Promise<{ key: KeyRecord; rotated: boolean }> {
    let newVersion = 0;
    const key = await this.update(tenant, keyId, (key, now) => {
      newVersion = 0;
      if (!when(key, now)) return key;
      requireEnabled(key, this.arn(tenant, keyId));
      requireRotatable(key, this.arn(tenant, keyId));
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
    }, async (tx, _before, after) => {
      const material = await newMaterial(after.keySpec);
      try {
        await this.putMaterial(tx, tenant, after, newVersion, material);
      } finally {
        zeroize(material);
      }
    });
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
    return (await this.materialEntry(tenant, keyId, version))?.key;
  }

  /**
   * The private key of an asymmetric key's version, parsed once and cached with its material, or
   * undefined if the material is gone. Like material(): use it before the next await.
   */
  async privateKey(tenant: Tenant, key: KeyRecord, version: number): Promise<PrivateKeyHandle | undefined> {
    const type = asymmetricTypeOf(key.keySpec);
    if (type === undefined) throw new KeywardError('InvalidKeyUsageException', `${this.arn(tenant, key.keyId)} is not an asymmetric key.`);
    await loadAsymmetricLibraries();
    const entry = await this.materialEntry(tenant, key.keyId, version);
    if (entry === undefined) return undefined;
    entry.handle ??= new PrivateKeyHandle(type, entry.key);
    return entry.handle;
  }

  private materialEntry(tenant: Tenant, keyId: string, version: number): Promise<CachedMaterial | undefined> {
    return this.materials.get(`${tenant.id}/${keyId}/${version}`, async () => {
      const entry = await this.barrier.get(paths.material(tenant.id, keyId, version));
      if (entry === undefined) return undefined;
      const key = await this.require(tenant, keyId);
      const { wrapped } = decodeRecord<{ wrapped: string }>(entry);
      const tmk = await this.tenants.masterKey(tenant);
      return { key: unwrapMaterial(tmk, materialRef(tenant, key, version), wrapped) };
    });
  }

  /**
   * Puts imported material (canonical bytes, already checked against the spec) into a key of
   * origin EXTERNAL that is PendingImport. A key takes only the material it was first given.
   */
  async importMaterial(tenant: Tenant, keyId: string, material: Buffer, expiry: MaterialExpiry, expectedId?: string): Promise<{ key: KeyRecord; keyMaterialId: string }> {
    const arn = this.arn(tenant, keyId);
    const current = await this.require(tenant, keyId);
    const id = keyMaterialId(await this.tenants.masterKey(tenant), keyId, material);
    const publicKey = await publicKeyOf(current.keySpec, material);
    const key = await this.update(tenant, keyId, (k, now) => {
      requireExternal(k, arn);
      if (k.keyState !== 'PendingImport') throw new KeywardError('KMSInvalidStateException', `${arn} is ${k.keyState}, not PendingImport.`);
      if (k.importedMaterial !== undefined && k.importedMaterial.keyMaterialId !== id) {
        throw new KeywardError('IncorrectKeyMaterialException', `The key material is not the key material previously imported into ${arn}.`);
      }
      if (expectedId !== undefined && expectedId !== id) {
        throw new KeywardError('IncorrectKeyMaterialException', `KeyMaterialId ${expectedId} does not identify this key material.`);
      }
      return {
        ...k,
        keyState: 'Enabled',
        ...(publicKey !== undefined ? { publicKey } : {}),
        importedMaterial: { keyMaterialId: id, current: { importedAt: now.toISOString(), ...expiry } },
      };
    }, (tx, _before, after) => this.putMaterial(tx, tenant, after, after.primaryVersion, material));
    this.materials.deletePrefix(`${tenant.id}/${keyId}/`);
    return { key, keyMaterialId: id };
  }

  /** DeleteImportedKeyMaterial: the material is deleted and the key waits for it again. */
  deleteImportedMaterial(tenant: Tenant, keyId: string): Promise<KeyRecord> {
    return this.removeImportedMaterial(tenant, keyId, false);
  }

  /** Deletes imported material whose ValidTo has passed (once, across nodes). */
  expireMaterial(tenant: Tenant, keyId: string): Promise<KeyRecord> {
    return this.removeImportedMaterial(tenant, keyId, true);
  }

  private async removeImportedMaterial(tenant: Tenant, keyId: string, onlyIfExpired: boolean): Promise<KeyRecord> {
    const arn = this.arn(tenant, keyId);
    const key = await this.update(tenant, keyId, (k, now) => {
      requireExternal(k, arn);
      const imported = k.importedMaterial;
      if (imported?.current === undefined || (onlyIfExpired && !materialExpired(k, now))) return k;
      return { ...k, keyState: k.keyState === 'PendingDeletion' ? 'PendingDeletion' : 'PendingImport', importedMaterial: { keyMaterialId: imported.keyMaterialId } };
    }, async (tx, before) => {
      for (const v of before.versions) await tx.delete(paths.material(tenant.id, keyId, v.version));
    });
    this.materials.deletePrefix(`${tenant.id}/${keyId}/`);
    return key;
  }

  /** Deletes a key whose deletion window has passed: record, every version's material, aliases, grants. */
  async purge(tenant: Tenant, keyId: string): Promise<boolean> {
    const purged = await withCasRetry(() => this.barrier.transaction(async (tx) => {
      const entry = await tx.get(paths.key(tenant.id, keyId));
      if (entry === undefined) return false;
      const key = decodeRecord<KeyRecord>(entry);
      if (!isExpired(key, this.clock())) return false;
      await adjustUsage(tx, tenant.id, { keys: -1 }, (t) => this.tenants.quotas(t));
      for (const v of key.versions) {
        await tx.delete(paths.material(tenant.id, keyId, v.version));
        if (key.maxEncryptions !== undefined) await tx.delete(paths.encryptionCount(tenant.id, keyId, v.version));
      }
      for (const t of (await tx.list(paths.importTokens(tenant.id, keyId), { limit: 1000 })).entries) await tx.delete(t.path);
      for (let after: string | undefined; ;) {
        const page = await tx.list(paths.grants(tenant.id, keyId), { ...(after !== undefined ? { after } : {}), limit: 1000 });
        for (const g of page.entries) await tx.delete(g.path);
        if (page.next === undefined) break;
        after = page.next;
      }
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

  /** Sizes and hit counts of the key caches (metrics). */
  cacheStats(): Record<string, CacheStats> {
    return { key_metadata: this.records.stats(), key_material: this.materials.stats() };
  }

  clear(): void {
    this.records.clear();
    this.materials.clear();
  }

  get cachedMaterialCount(): number {
    return this.materials.size;
  }

  private async putMaterial(tx: BarrierWriter, tenant: Tenant, key: KeyRecord, version: number, material: Buffer): Promise<void> {
    const tmk = await this.tenants.masterKey(tenant);
    const wrapped = wrapMaterial(tmk, materialRef(tenant, key, version), material);
    await tx.put(paths.material(tenant.id, key.keyId, version), encodeRecord({ wrapped }), { ifVersion: 0 });
  }
}

function materialRef(tenant: Tenant, key: KeyRecord, version: number): MaterialRef {
  return { tenantId: tenant.id, keyId: key.keyId, version, purpose: materialPurpose(key.keySpec, key.keyUsage) };
}

/** The DER SubjectPublicKeyInfo (base64) of asymmetric material; undefined for symmetric and HMAC. */
async function publicKeyOf(spec: SupportedKeySpec, material: Buffer): Promise<string | undefined> {
  return (await publicKeyDer(spec, material))?.toString('base64');
}

function materialExpired(key: KeyRecord, now: Date): boolean {
  const validTo = key.importedMaterial?.current?.validTo;
  return validTo !== undefined && Date.parse(validTo) <= now.getTime();
}

function requireExternal(key: KeyRecord, arn: string): void {
  if (key.origin !== 'EXTERNAL') throw new KeywardError('UnsupportedOperationException', `${arn} has origin ${key.origin}: only keys of origin EXTERNAL take imported key material.`);
}

/** AWS rotates only symmetric encryption keys whose material it generated. */
export function requireRotatable(key: KeyRecord, arn: string): void {
  if (key.keySpec !== 'SYMMETRIC_DEFAULT' || key.origin !== 'AWS_KMS') {
    const what = key.origin !== 'AWS_KMS' ? 'keys with imported key material' : `${key.keySpec} keys`;
    throw new KeywardError('UnsupportedOperationException', `${arn} cannot be rotated: rotation is supported only for symmetric encryption keys, not for ${what}.`);
  }
}

async function reconcileSchedule(tx: BarrierWriter, before: KeyRecord | undefined, after: KeyRecord | undefined): Promise<void> {
  await reconcileIndex(tx, before === undefined ? [] : keySchedulePaths(before), after === undefined ? [] : keySchedulePaths(after));
}
