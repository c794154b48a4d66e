/**
 * AWS KMS's key model as data: every enum value AWS accepts (so a value outside it is a
 * ValidationException and a valid one Keyward lacks is UnsupportedOperationException), and for
 * each key spec the usages it allows and the algorithms of each usage. Validation, CreateKey,
 * DescribeKey and the cryptographic operations all read this one table.
 */

export const KEY_SPECS = [
  'RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1',
  'SYMMETRIC_DEFAULT', 'HMAC_224', 'HMAC_256', 'HMAC_384', 'HMAC_512', 'SM2', 'ML_KEM_512', 'ML_KEM_768',
  'ML_KEM_1024', 'ML_DSA_44', 'ML_DSA_65', 'ML_DSA_87', 'ECC_NIST_EDWARDS25519',
] as const;
export type KeySpec = (typeof KEY_SPECS)[number];

/** CustomerMasterKeySpec: the deprecated name of KeySpec, with AWS's older value set. */
export const CUSTOMER_MASTER_KEY_SPECS = [
  'RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1',
  'SYMMETRIC_DEFAULT', 'HMAC_224', 'HMAC_256', 'HMAC_384', 'HMAC_512', 'SM2',
] as const satisfies readonly KeySpec[];

export const KEY_USAGES = ['SIGN_VERIFY', 'ENCRYPT_DECRYPT', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT', 'ENCAPSULATE_DECAPSULATE'] as const;
export type KeyUsage = (typeof KEY_USAGES)[number];

export const ORIGINS = ['AWS_KMS', 'EXTERNAL', 'AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE'] as const;
export type Origin = (typeof ORIGINS)[number];
/** The origins Keyward implements: generated here, or imported (BYOK). */
export type SupportedOrigin = Extract<Origin, 'AWS_KMS' | 'EXTERNAL'>;

export const SIGNING_ALGORITHMS = [
  'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512', 'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512', 'ECDSA_SHA_256', 'ECDSA_SHA_384', 'ECDSA_SHA_512',
  'SM2DSA', 'ML_DSA_SHAKE_256', 'ED25519_SHA_512', 'ED25519_PH_SHA_512',
] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export const ENCRYPTION_ALGORITHMS = ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE'] as const;
export type EncryptionAlgorithm = (typeof ENCRYPTION_ALGORITHMS)[number];

export const MAC_ALGORITHMS = ['HMAC_SHA_224', 'HMAC_SHA_256', 'HMAC_SHA_384', 'HMAC_SHA_512'] as const;
export type MacAlgorithm = (typeof MAC_ALGORITHMS)[number];

export const KEY_AGREEMENT_ALGORITHMS = ['ECDH'] as const;
export type KeyAgreementAlgorithm = (typeof KEY_AGREEMENT_ALGORITHMS)[number];

export const MESSAGE_TYPES = ['RAW', 'DIGEST', 'EXTERNAL_MU'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

export const DATA_KEY_PAIR_SPECS = [
  'RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1', 'SM2',
  'ECC_NIST_EDWARDS25519', 'ML_KEM_512', 'ML_KEM_768', 'ML_KEM_1024',
] as const;
export type DataKeyPairSpec = (typeof DATA_KEY_PAIR_SPECS)[number];

/** GetParametersForImport: how the caller wraps material (RSAES_PKCS1_V1_5 is valid but retired by AWS). */
export const WRAPPING_ALGORITHMS = ['RSAES_PKCS1_V1_5', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256', 'SM2PKE'] as const;
export type WrappingAlgorithm = (typeof WRAPPING_ALGORITHMS)[number];
export const WRAPPING_KEY_SPECS = ['RSA_2048', 'RSA_3072', 'RSA_4096', 'SM2'] as const;
export type WrappingKeySpec = (typeof WRAPPING_KEY_SPECS)[number];

export const EXPIRATION_MODELS = ['KEY_MATERIAL_EXPIRES', 'KEY_MATERIAL_DOES_NOT_EXPIRE'] as const;
export type ExpirationModel = (typeof EXPIRATION_MODELS)[number];

export const IMPORT_TYPES = ['NEW_KEY_MATERIAL', 'EXISTING_KEY_MATERIAL'] as const;

/** How Keyward holds a spec's material (what crypto/ generates, stores and loads). */
export type KeyFamily = 'symmetric' | 'rsa' | 'ec' | 'ed25519' | 'hmac' | 'ml-dsa';

/** The algorithms one usage of a key spec offers (DescribeKey lists them by kind). */
export interface UsageAlgorithms {
  readonly encryption?: readonly EncryptionAlgorithm[];
  readonly signing?: readonly SigningAlgorithm[];
  readonly mac?: readonly MacAlgorithm[];
  readonly keyAgreement?: readonly KeyAgreementAlgorithm[];
}

export interface KeySpecInfo {
  /** Undefined for AWS specs Keyward does not implement (SM2, ML-KEM). */
  readonly family?: KeyFamily;
  readonly usages: Partial<Record<KeyUsage, UsageAlgorithms>>;
  /** Curve (EC), modulus bits (RSA), key bytes (HMAC, symmetric) or parameter set (ML-DSA). */
  readonly parameter?: string | number;
}

const RSA_SIGNING: readonly SigningAlgorithm[] = [
  'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512',
];
const RSA_USAGES = { ENCRYPT_DECRYPT: { encryption: ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] }, SIGN_VERIFY: { signing: RSA_SIGNING } } as const;
const nistCurve = (curve: string, signing: SigningAlgorithm): KeySpecInfo => ({
  family: 'ec', parameter: curve, usages: { SIGN_VERIFY: { signing: [signing] }, KEY_AGREEMENT: { keyAgreement: ['ECDH'] } },
});
const hmac = (bytes: number, mac: MacAlgorithm): KeySpecInfo => ({ family: 'hmac', parameter: bytes, usages: { GENERATE_VERIFY_MAC: { mac: [mac] } } });
const mlDsa = (set: string): KeySpecInfo => ({ family: 'ml-dsa', parameter: set, usages: { SIGN_VERIFY: { signing: ['ML_DSA_SHAKE_256'] } } });

export const KEY_SPEC_INFO: Readonly<Record<KeySpec, KeySpecInfo>> = {
  SYMMETRIC_DEFAULT: { family: 'symmetric', parameter: 32, usages: { ENCRYPT_DECRYPT: { encryption: ['SYMMETRIC_DEFAULT'] } } },
  RSA_2048: { family: 'rsa', parameter: 2048, usages: RSA_USAGES },
  RSA_3072: { family: 'rsa', parameter: 3072, usages: RSA_USAGES },
  RSA_4096: { family: 'rsa', parameter: 4096, usages: RSA_USAGES },
  ECC_NIST_P256: nistCurve('P-256', 'ECDSA_SHA_256'),
  ECC_NIST_P384: nistCurve('P-384', 'ECDSA_SHA_384'),
  ECC_NIST_P521: nistCurve('P-521', 'ECDSA_SHA_512'),
  ECC_SECG_P256K1: { family: 'ec', parameter: 'secp256k1', usages: { SIGN_VERIFY: { signing: ['ECDSA_SHA_256'] } } },
  ECC_NIST_EDWARDS25519: { family: 'ed25519', usages: { SIGN_VERIFY: { signing: ['ED25519_SHA_512', 'ED25519_PH_SHA_512'] } } },
  HMAC_224: hmac(28, 'HMAC_SHA_224'),
  HMAC_256: hmac(32, 'HMAC_SHA_256'),
  HMAC_384: hmac(48, 'HMAC_SHA_384'),
  HMAC_512: hmac(64, 'HMAC_SHA_512'),
  ML_DSA_44: mlDsa('ml_dsa44'),
  ML_DSA_65: mlDsa('ml_dsa65'),
  ML_DSA_87: mlDsa('ml_dsa87'),
  SM2: { usages: { SIGN_VERIFY: { signing: ['SM2DSA'] }, ENCRYPT_DECRYPT: { encryption: ['SM2PKE'] }, KEY_AGREEMENT: { keyAgreement: ['ECDH'] } } },
  ML_KEM_512: { usages: { ENCAPSULATE_DECAPSULATE: {} } },
  ML_KEM_768: { usages: { ENCAPSULATE_DECAPSULATE: {} } },
  ML_KEM_1024: { usages: { ENCAPSULATE_DECAPSULATE: {} } },
};

/** A key spec Keyward implements (stored key records carry only these). */
export type SupportedKeySpec = Exclude<KeySpec, 'SM2' | 'ML_KEM_512' | 'ML_KEM_768' | 'ML_KEM_1024'>;
export type SupportedKeyUsage = Exclude<KeyUsage, 'ENCAPSULATE_DECAPSULATE'>;

export function isSupportedKeySpec(spec: KeySpec): spec is SupportedKeySpec {
  return KEY_SPEC_INFO[spec].family !== undefined;
}

export function familyOf(spec: SupportedKeySpec): KeyFamily {
  const family = KEY_SPEC_INFO[spec].family;
  if (family === undefined) throw new Error(`no family for ${spec}`);
  return family;
}

/** The algorithms a key of this spec and usage offers (empty when the pair is not valid). */
export function algorithmsOf(spec: KeySpec, usage: KeyUsage): UsageAlgorithms {
  return KEY_SPEC_INFO[spec].usages[usage] ?? {};
}

export function allowsUsage(spec: KeySpec, usage: KeyUsage): boolean {
  return KEY_SPEC_INFO[spec].usages[usage] !== undefined;
}

/** Which specs GenerateDataKeyPair makes (the asymmetric ones Keyward implements). */
export type SupportedDataKeyPairSpec = Extract<DataKeyPairSpec, SupportedKeySpec>;
export function isSupportedDataKeyPairSpec(spec: DataKeyPairSpec): spec is SupportedDataKeyPairSpec {
  return (KEY_SPECS as readonly string[]).includes(spec) && isSupportedKeySpec(spec as KeySpec);
}

/** The hash a signing or MAC algorithm uses, as node:crypto names it (and its digest length). */
export const HASH_OF: Readonly<Record<Exclude<SigningAlgorithm, 'SM2DSA' | 'ML_DSA_SHAKE_256'> | MacAlgorithm, { name: string; bytes: number }>> = {
  RSASSA_PSS_SHA_256: { name: 'sha256', bytes: 32 },
  RSASSA_PSS_SHA_384: { name: 'sha384', bytes: 48 },
  RSASSA_PSS_SHA_512: { name: 'sha512', bytes: 64 },
  RSASSA_PKCS1_V1_5_SHA_256: { name: 'sha256', bytes: 32 },
  RSASSA_PKCS1_V1_5_SHA_384: { name: 'sha384', bytes: 48 },
  RSASSA_PKCS1_V1_5_SHA_512: { name: 'sha512', bytes: 64 },
  ECDSA_SHA_256: { name: 'sha256', bytes: 32 },
  ECDSA_SHA_384: { name: 'sha384', bytes: 48 },
  ECDSA_SHA_512: { name: 'sha512', bytes: 64 },
  ED25519_SHA_512: { name: 'sha512', bytes: 64 },
  ED25519_PH_SHA_512: { name: 'sha512', bytes: 64 },
  HMAC_SHA_224: { name: 'sha224', bytes: 28 },
  HMAC_SHA_256: { name: 'sha256', bytes: 32 },
  HMAC_SHA_384: { name: 'sha384', bytes: 48 },
  HMAC_SHA_512: { name: 'sha512', bytes: 64 },
};

/** CreateGrant's Operations: what a grant may permit (AWS's GrantOperation enum). */
export const GRANT_OPERATIONS = [
  'Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo', 'Sign',
  'Verify', 'GetPublicKey', 'CreateGrant', 'RetireGrant', 'DescribeKey', 'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext', 'GenerateMac', 'VerifyMac', 'DeriveSharedSecret',
] as const;
export type GrantOperation = (typeof GRANT_OPERATIONS)[number];
