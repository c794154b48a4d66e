import type { BarrierEntry } from '../barrier/index.js';
import { decodePrincipal, wipePrincipal } from './principal-record.js';
import { decodeRecord } from './records.js';
import type { KeyRecord, PrincipalRecord, Tenant } from './types.js';

/** Due-time kinds: automatic rotation, key deletion after the waiting period, imported material expiring, tenant deletion. */
export type ScheduleKind = 'rotation' | 'deletion' | 'expiry' | 'tenant-deletion';

/**
 * Every path the keyring writes. Paths are ASCII (ids, alias names, principal names), sorted
 * bytewise, and each record's path is its AAD under the barrier, so a record cannot be moved.
 * A record that belongs to a tenant is also listed in tenantRecords below.
 */
export const paths = {
  tenant: (tenantId: string) => `tenants/${tenantId}`,
  tenants: () => 'tenants/',
  key: (tenantId: string, keyId: string) => `keys/${tenantId}/${keyId}`,
  keys: (tenantId: string) => `keys/${tenantId}/`,
  material: (tenantId: string, keyId: string, version: number) => `material/${tenantId}/${keyId}/${String(version).padStart(10, '0')}`,
  materials: (tenantId: string, keyId: string) => `material/${tenantId}/${keyId}/`,
  tenantMaterials: (tenantId: string) => `material/${tenantId}/`,
  /** Key and principal counts of a tenant (its quotas' usage). */
  usage: (tenantId: string) => `usage/${tenantId}`,
  /** GetParametersForImport's wrapping keys, per key, until used up or expired (24 h). */
  importToken: (tenantId: string, keyId: string, tokenId: string) => `imports/${tenantId}/${keyId}/${tokenId}`,
  importTokens: (tenantId: string, keyId: string) => `imports/${tenantId}/${keyId}/`,
  tenantImportTokens: (tenantId: string) => `imports/${tenantId}/`,
  /** Grants of a key, by grant id (CreateGrant; deleted with the key). */
  grant: (tenantId: string, keyId: string, grantId: string) => `grants/${tenantId}/${keyId}/${grantId}`,
  grants: (tenantId: string, keyId: string) => `grants/${tenantId}/${keyId}/`,
  tenantGrants: (tenantId: string) => `grants/${tenantId}/`,
  alias: (tenantId: string, aliasName: string) => `aliases/${tenantId}/${aliasName}`,
  aliases: (tenantId: string) => `aliases/${tenantId}/`,
  principal: (tenantId: string, name: string) => `principals/${tenantId}/${name}`,
  principals: (tenantId: string) => `principals/${tenantId}/`,
  accessKey: (accessKeyId: string) => `credentials/access-keys/${accessKeyId}`,
  token: (tokenId: string) => `credentials/tokens/${tokenId}`,
  /** Encryptions reserved under a key version with a usage limit (tenant-scoped, like the key). */
  encryptionCount: (tenantId: string, keyId: string, version: number) => `encryptions/${tenantId}/${keyId}/${String(version).padStart(10, '0')}`,
  encryptionCounts: (tenantId: string) => `encryptions/${tenantId}/`,
  /** Due-time index: the scheduler scans this prefix in time order. */
  schedule: (kind: ScheduleKind, at: string, tenantId: string, keyId: string) => `schedule/${kind}/${at}/${tenantId}/${keyId}`,
  tenantSchedule: (at: string, tenantId: string) => `schedule/tenant-deletion/${at}/${tenantId}`,
  schedules: (kind: ScheduleKind) => `schedule/${kind}/`,
  /** The root CA (one per installation; system-wide, wrapped under the system tenant's master key). */
  pkiRoot: () => 'pki-root',
  /** A tenant's CAs by generation (RotateTenantCA adds one); the highest generation is active. */
  pkiCa: (tenantId: string, generation: number) => `pki-cas/${tenantId}/${String(generation).padStart(10, '0')}`,
  pkiCas: (tenantId: string) => `pki-cas/${tenantId}/`,
  /** Certificates a tenant's CAs issued, by serial number (hex). */
  pkiCertificate: (tenantId: string, serial: string) => `pki-certs/${tenantId}/${serial}`,
  pkiCertificates: (tenantId: string) => `pki-certs/${tenantId}/`,
  /** Revoked certificates of a tenant, by serial: what CRLs, OCSP and mTLS read. */
  pkiRevocation: (tenantId: string, serial: string) => `pki-revoked/${tenantId}/${serial}`,
  pkiRevocations: (tenantId: string) => `pki-revoked/${tenantId}/`,
};

/** The due-time index entries a key record implies (see Scheduler). */
export function keySchedulePaths(key: KeyRecord): string[] {
  const out: string[] = [];
  if (key.keyState === 'Enabled' && key.rotation.enabled && key.rotation.nextRotationAt !== undefined) {
    out.push(paths.schedule('rotation', key.rotation.nextRotationAt, key.tenantId, key.keyId));
  }
  if (key.keyState === 'PendingDeletion' && key.deletionDate !== undefined) {
    out.push(paths.schedule('deletion', key.deletionDate, key.tenantId, key.keyId));
  }
  const validTo = key.importedMaterial?.current?.validTo;
  if (validTo !== undefined) out.push(paths.schedule('expiry', validTo, key.tenantId, key.keyId));
  return out;
}

/** The due-time index entry a tenant record implies: its deletion, while pending. */
export function tenantSchedulePaths(tenant: Tenant): string[] {
  return tenant.deletion === undefined ? [] : [paths.tenantSchedule(tenant.deletion.date, tenant.id)];
}

/**
 * Where one kind of tenant record lives: every record under `prefix`, or the one record at `path`.
 * `owns` names the records outside the tenant's paths that such a record owns (indexes pointing
 * at it, schedule entries): they go with it.
 */
export type TenantRecordKind = ({ readonly prefix: string } | { readonly path: string }) & {
  readonly owns?: (entry: BarrierEntry) => readonly string[];
};

function owning<T>(where: { readonly prefix: string } | { readonly path: string }, owns: (record: T) => readonly string[], decode: (entry: BarrierEntry) => T = decodeRecord): TenantRecordKind {
  return { ...where, owns: (entry) => owns(decode(entry)) };
}

/** A principal's indexes; its record is read with the secret as bytes, zeroed at once. */
function principalIndexes(entry: BarrierEntry): PrincipalRecord {
  const p = decodePrincipal(entry);
  wipePrincipal(p);
  return p;
}

/**
 * Everything a tenant owns in the store, in one place: deleting a tenant removes exactly this (in
 * one transaction, see Tenants.purge), `keyward backup --exclude-tenant` leaves it out, and a test
 * scans the store for anything left behind. A new kind of tenant record is covered by adding its
 * prefix (or path) here, with `owns` if it keeps an index outside its prefix.
 */
export function tenantRecords(tenantId: string): readonly TenantRecordKind[] {
  return [
    owning<Tenant>({ path: paths.tenant(tenantId) }, tenantSchedulePaths),
    { path: paths.usage(tenantId) },
    owning<KeyRecord>({ prefix: paths.keys(tenantId) }, keySchedulePaths),
    { prefix: paths.tenantMaterials(tenantId) },
    { prefix: paths.tenantImportTokens(tenantId) },
    { prefix: paths.encryptionCounts(tenantId) },
    { prefix: paths.aliases(tenantId) },
    { prefix: paths.tenantGrants(tenantId) },
    owning<PrincipalRecord>({ prefix: paths.principals(tenantId) }, (p) => [paths.accessKey(p.accessKeyId), paths.token(p.tokenId)], principalIndexes),
    // the tenant's CAs (with their wrapped private keys), the certificates they issued, revocations
    { prefix: paths.pkiCas(tenantId) },
    { prefix: paths.pkiCertificates(tenantId) },
    { prefix: paths.pkiRevocations(tenantId) },
  ];
}

/** Whether a path lies in one of the tenant's prefixes or is one of its records (not its owned indexes). */
export function isTenantPath(kinds: readonly TenantRecordKind[], path: string): boolean {
  return kinds.some((k) => ('prefix' in k ? path.startsWith(k.prefix) : path === k.path));
}

/** What a changed path means for the caches. */
export type ChangedRecord =
  | { kind: 'tenant'; tenantId: string }
  | { kind: 'key'; tenantId: string; keyId: string }
  | { kind: 'material'; tenantId: string; keyId: string; version: number }
  | { kind: 'alias'; tenantId: string; aliasName: string }
  | { kind: 'grant'; tenantId: string; keyId: string }
  | { kind: 'principal'; tenantId: string; name: string }
  | { kind: 'credential'; id: string }
  | { kind: 'keyring' }
  | { kind: 'pki'; tenantId: string | undefined }
  | { kind: 'other' };

export function classifyPath(path: string): ChangedRecord {
  const parts = path.split('/');
  switch (parts[0]) {
    case 'tenants':
      return { kind: 'tenant', tenantId: parts[1] ?? '' };
    case 'keys':
      return { kind: 'key', tenantId: parts[1] ?? '', keyId: parts[2] ?? '' };
    case 'material':
      return { kind: 'material', tenantId: parts[1] ?? '', keyId: parts[2] ?? '', version: Number(parts[3]) };
    case 'aliases':
      return { kind: 'alias', tenantId: parts[1] ?? '', aliasName: parts.slice(2).join('/') };
    case 'grants':
      return { kind: 'grant', tenantId: parts[1] ?? '', keyId: parts[2] ?? '' };
    case 'principals':
      return { kind: 'principal', tenantId: parts[1] ?? '', name: parts[2] ?? '' };
    case 'credentials':
      return { kind: 'credential', id: parts[2] ?? '' };
    case 'core':
      return { kind: 'keyring' };
    case 'pki-root':
      return { kind: 'pki', tenantId: undefined };
    case 'pki-cas':
    case 'pki-certs':
    case 'pki-revoked':
      return { kind: 'pki', tenantId: parts[1] ?? '' };
    default:
      return { kind: 'other' };
  }
}
