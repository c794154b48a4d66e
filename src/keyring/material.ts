import { hkdfSha256, randomBytes } from '../crypto/index.js';
import { KeywardError } from '../errors/index.js';
import { openRecord, RecordIntegrityError, sealRecord } from '../format/index.js';

/** What a key version's material is for: part of its wrapping AAD, so it cannot be repurposed. */
export type MaterialPurpose = 'ENCRYPT_DECRYPT' | 'CA_PRIVATE_KEY';

export interface MaterialRef {
  readonly tenantId: string;
  readonly keyId: string;
  readonly version: number;
  readonly purpose: MaterialPurpose;
}

const TENANT_KEY_INFO = 'keyward/tenant-master-key/v1|';

/** Tenant master key = HKDF-SHA256(tenant derivation key, tenant salt, info = tenant id). Never stored. */
export function deriveTenantMasterKey(tenantDerivationKey: Buffer, tenantId: string, salt: Buffer): Buffer {
  return hkdfSha256(tenantDerivationKey, salt, TENANT_KEY_INFO + tenantId);
}

export function newMaterial(): Buffer {
  return randomBytes(32);
}

function label(ref: MaterialRef): string {
  return `material|${ref.tenantId}|${ref.keyId}|${ref.version}|${ref.purpose}`;
}

/** Wraps version material under the tenant master key with (tenant, key, version, purpose) as AAD. */
export function wrapMaterial(tenantMasterKey: Buffer, ref: MaterialRef, material: Buffer): string {
  return sealRecord(label(ref), 0, tenantMasterKey, material).toString('base64');
}

export function unwrapMaterial(tenantMasterKey: Buffer, ref: MaterialRef, wrapped: string): Buffer {
  try {
    return openRecord(label(ref), tenantMasterKey, Buffer.from(wrapped, 'base64'));
  } catch (e) {
    if (e instanceof RecordIntegrityError) {
      throw new KeywardError('IntegrityException', `key material of ${ref.keyId} version ${ref.version} failed its integrity check`);
    }
    throw e;
  }
}
