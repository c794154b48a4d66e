import { generatePrivateKey, hkdfSha256, loadAsymmetricLibraries, PrivateKeyHandle, hmacSha256, randomBytes, type AsymmetricType } from '../crypto/index.js';
import { KeywardError } from '../errors/index.js';
import { openRecord, RecordIntegrityError, sealRecord } from '../format/index.js';
import { familyOf, KEY_SPEC_INFO, type SupportedKeySpec, type SupportedKeyUsage } from './key-specs.js';

/**
 * What a key version's material is for: part of its wrapping AAD, so it cannot be repurposed.
 * Symmetric keys keep the plain usage (as stored since the first release); other keys add their
 * spec, so an HMAC key's bytes can never be read as another spec's; CA keys are their own purpose.
 */
export type MaterialPurpose = 'ENCRYPT_DECRYPT' | `${SupportedKeyUsage}/${SupportedKeySpec}` | 'CA_PRIVATE_KEY';

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

export function materialPurpose(spec: SupportedKeySpec, usage: SupportedKeyUsage): MaterialPurpose {
  return spec === 'SYMMETRIC_DEFAULT' ? 'ENCRYPT_DECRYPT' : `${usage}/${spec}`;
}

/** The crypto/ type of an asymmetric spec's private key (undefined for symmetric and HMAC). */
export function asymmetricTypeOf(spec: SupportedKeySpec): AsymmetricType | undefined {
  const info = KEY_SPEC_INFO[spec];
  switch (familyOf(spec)) {
    case 'rsa': return { kind: 'rsa', bits: Number(info.parameter) };
    case 'ec': return { kind: 'ec', curve: info.parameter as 'P-256' | 'P-384' | 'P-521' | 'secp256k1' };
    case 'ed25519': return { kind: 'ed25519' };
    case 'ml-dsa': return { kind: 'ml-dsa', set: info.parameter as 'ml_dsa44' | 'ml_dsa65' | 'ml_dsa87' };
    default: return undefined;
  }
}

/** New material for a key of this spec: random bytes (symmetric, HMAC) or a PKCS#8 private key. */
export async function newMaterial(spec: SupportedKeySpec = 'SYMMETRIC_DEFAULT'): Promise<Buffer> {
  const type = asymmetricTypeOf(spec);
  return type === undefined ? randomBytes(Number(KEY_SPEC_INFO[spec].parameter)) : generatePrivateKey(type);
}

/** The DER SubjectPublicKeyInfo of asymmetric material; undefined for symmetric and HMAC specs. */
export async function publicKeyDer(spec: SupportedKeySpec, material: Uint8Array): Promise<Buffer | undefined> {
  const type = asymmetricTypeOf(spec);
  if (type === undefined) return undefined;
  await loadAsymmetricLibraries();
  const handle = new PrivateKeyHandle(type, material);
  try {
    return handle.publicKeyDer;
  } finally {
    handle.destroy();
  }
}

/**
 * Identifies imported material without revealing it (a plain hash would let weak HMAC material
 * be guessed offline): HMAC-SHA256 under the tenant master key, bound to the key id.
 */
export function keyMaterialId(tenantMasterKey: Buffer, keyId: string, material: Uint8Array): string {
  return hmacSha256(hkdfSha256(tenantMasterKey, Buffer.alloc(0), `keyward/key-material-id/v1|${keyId}`), material).toString('hex');
}

function label(ref: MaterialRef): string {
  return `material|${ref.tenantId}|${ref.keyId}|${ref.version}|${ref.purpose}`;
}

/** Wraps version material under the tenant master key with (tenant, key, version, purpose) as AAD. */
export function wrapMaterial(tenantMasterKey: Buffer, ref: MaterialRef, material: Buffer): string {
  return sealRecord(label(ref), 0, tenantMasterKey, material).toString('base64');
}

export function unwrapMaterial(tenantMasterKey: Buffer, ref: MaterialRef, wrapped: string): Buffer {
  return unwrapSecret(tenantMasterKey, label(ref), wrapped, `key material of ${ref.keyId} version ${ref.version}`);
}

/** Any other tenant secret (import wrapping keys) wrapped under the tenant master key with its label as AAD. */
export function wrapSecret(tenantMasterKey: Buffer, aad: string, secret: Buffer): string {
  return sealRecord(aad, 0, tenantMasterKey, secret).toString('base64');
}

export function unwrapSecret(tenantMasterKey: Buffer, aad: string, wrapped: string, what: string): Buffer {
  try {
    return openRecord(aad, tenantMasterKey, Buffer.from(wrapped, 'base64'));
  } catch (e) {
    if (e instanceof RecordIntegrityError) throw new KeywardError('IntegrityException', `${what} failed its integrity check`);
    throw e;
  }
}
