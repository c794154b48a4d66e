/**
 * Every path the keyring writes. Paths are ASCII (ids, alias names, principal names), sorted
 * bytewise, and each record's path is its AAD under the barrier, so a record cannot be moved.
 */
export const paths = {
  tenant: (tenantId: string) => `tenants/${tenantId}`,
  tenants: () => 'tenants/',
  key: (tenantId: string, keyId: string) => `keys/${tenantId}/${keyId}`,
  keys: (tenantId: string) => `keys/${tenantId}/`,
  material: (tenantId: string, keyId: string, version: number) => `material/${tenantId}/${keyId}/${String(version).padStart(10, '0')}`,
  materials: (tenantId: string, keyId: string) => `material/${tenantId}/${keyId}/`,
  alias: (tenantId: string, aliasName: string) => `aliases/${tenantId}/${aliasName}`,
  aliases: (tenantId: string) => `aliases/${tenantId}/`,
  principal: (tenantId: string, name: string) => `principals/${tenantId}/${name}`,
  principals: (tenantId: string) => `principals/${tenantId}/`,
  accessKey: (accessKeyId: string) => `credentials/access-keys/${accessKeyId}`,
  token: (tokenId: string) => `credentials/tokens/${tokenId}`,
  /** Due-time index: the scheduler scans this prefix in time order. */
  schedule: (kind: 'rotation' | 'deletion', at: string, tenantId: string, keyId: string) => `schedule/${kind}/${at}/${tenantId}/${keyId}`,
  schedules: (kind: 'rotation' | 'deletion') => `schedule/${kind}/`,
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

/**
 * Prefixes under which a tenant's PKI records live (CA keys and certificates, certificates,
 * revocations): deleting a tenant deletes everything under them.
 */
export function pkiTenantPrefixes(tenantId: string): string[] {
  return [paths.pkiCas(tenantId), paths.pkiCertificates(tenantId), paths.pkiRevocations(tenantId)];
}

/** What a changed path means for the caches. */
export type ChangedRecord =
  | { kind: 'tenant'; tenantId: string }
  | { kind: 'key'; tenantId: string; keyId: string }
  | { kind: 'material'; tenantId: string; keyId: string; version: number }
  | { kind: 'alias'; tenantId: string; aliasName: string }
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
