import type * as MlDsaExports from '@noble/post-quantum/ml-dsa.js';

type MlDsaModule = typeof MlDsaExports;

/**
 * ML-DSA (FIPS 204) through @noble/post-quantum, with the DER shapes AWS KMS uses: a PKCS#8
 * private key holding the 32-byte seed (RFC 9881, `seed [0]`), and a SubjectPublicKeyInfo whose
 * algorithm is id-ml-dsa-44/65/87 without parameters. OpenSSL 3.0 (Node 20) has no ML-DSA.
 */
export type MlDsaSet = 'ml_dsa44' | 'ml_dsa65' | 'ml_dsa87';

/**
 * @noble/post-quantum loads on first use (loadMlDsa): a server that never touches an ML-DSA key
 * does not pay for parsing it at start. Public key sizes are FIPS 204's, so DER shapes need no library.
 */
let impl: Pick<MlDsaModule, MlDsaSet> | undefined;
let loading: Promise<void> | undefined;
const PUBLIC_KEY_BYTES = { ml_dsa44: 1312, ml_dsa65: 1952, ml_dsa87: 2592 } as const;

export function loadMlDsa(): Promise<void> {
  loading ??= import('@noble/post-quantum/ml-dsa.js').then((m) => {
    impl = { ml_dsa44: m.ml_dsa44, ml_dsa65: m.ml_dsa65, ml_dsa87: m.ml_dsa87 };
  }).catch((e: unknown) => {
    loading = undefined;
    throw e;
  });
  return loading;
}

/** Throws unless loadMlDsa() has completed (so a verification never fails silently for want of it). */
export function requireMlDsaLoaded(): void {
  if (impl === undefined) throw new Error('ML-DSA is not loaded: await loadMlDsa() (or loadAsymmetricLibraries()) first');
}

function IMPL_OF(set: MlDsaSet): MlDsaModule[MlDsaSet] {
  if (impl === undefined) throw new Error('ML-DSA is not loaded: await loadMlDsa() (or loadAsymmetricLibraries()) first');
  return impl[set];
}
/** id-ml-dsa-44/65/87: 2.16.840.1.101.3.4.3.17/18/19. */
const OID_LAST = { ml_dsa44: 0x11, ml_dsa65: 0x12, ml_dsa87: 0x13 } as const;
const SEED_BYTES = 32;

function algorithmIdentifier(set: MlDsaSet): Buffer {
  return Buffer.from([0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, OID_LAST[set]]);
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  return Buffer.from([0x82, n >> 8, n & 0xff]);
}

function tlv(tag: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

export function mlDsaPkcs8(set: MlDsaSet, seed: Uint8Array): Buffer {
  const privateKey = tlv(0x04, tlv(0x80, Buffer.from(seed)));
  return tlv(0x30, Buffer.concat([Buffer.from([0x02, 0x01, 0x00]), algorithmIdentifier(set), privateKey]));
}

/** The seed of a seed-form PKCS#8 ML-DSA key of this parameter set, or undefined if it is not one. */
export function mlDsaSeedOf(set: MlDsaSet, pkcs8: Uint8Array): Buffer | undefined {
  const expected = mlDsaPkcs8(set, Buffer.alloc(SEED_BYTES));
  const prefix = expected.subarray(0, expected.length - SEED_BYTES);
  if (pkcs8.length !== expected.length || !Buffer.from(pkcs8.subarray(0, prefix.length)).equals(prefix)) return undefined;
  return Buffer.from(pkcs8.subarray(prefix.length));
}

export function mlDsaSpki(set: MlDsaSet, publicKey: Uint8Array): Buffer {
  return tlv(0x30, Buffer.concat([algorithmIdentifier(set), tlv(0x03, Buffer.concat([Buffer.from([0]), Buffer.from(publicKey)]))]));
}

/** The raw public key of an ML-DSA SubjectPublicKeyInfo of this set, or undefined. */
export function mlDsaPublicKeyOf(set: MlDsaSet, spki: Uint8Array): Buffer | undefined {
  const length = PUBLIC_KEY_BYTES[set];
  const expected = mlDsaSpki(set, new Uint8Array(length));
  const prefix = expected.subarray(0, expected.length - length);
  if (spki.length !== expected.length || !Buffer.from(spki.subarray(0, prefix.length)).equals(prefix)) return undefined;
  return Buffer.from(spki.subarray(prefix.length));
}

export interface MlDsaKeys {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

export function mlDsaExpand(set: MlDsaSet, seed: Uint8Array): MlDsaKeys {
  return IMPL_OF(set).keygen(seed);
}

/** Pure ML-DSA with an empty context (message) or over a caller-computed 64-byte mu. */
export function mlDsaSign(set: MlDsaSet, keys: MlDsaKeys, input: Uint8Array, externalMu: boolean): Uint8Array {
  return externalMu ? IMPL_OF(set).internal.sign(input, keys.secretKey, { externalMu: true }) : IMPL_OF(set).sign(input, keys.secretKey);
}

export function mlDsaVerify(set: MlDsaSet, publicKey: Uint8Array, input: Uint8Array, signature: Uint8Array, externalMu: boolean): boolean {
  try {
    return externalMu
      ? IMPL_OF(set).internal.verify(signature, input, publicKey, { externalMu: true })
      : IMPL_OF(set).verify(signature, input, publicKey);
  } catch {
    return false;
  }
}

export const ML_DSA_SEED_BYTES = SEED_BYTES;
