import {
  constants, createPrivateKey, createPublicKey, diffieHellman, generateKeyPair, privateDecrypt, privateEncrypt,
  publicDecrypt, publicEncrypt, sign, verify, type KeyObject,
} from 'node:crypto';
// types only (erased): the modules themselves load on first use, in loadAsymmetricLibraries
import type * as Ed25519Module from '@noble/curves/ed25519.js';
import type * as NistModule from '@noble/curves/nist.js';
import type * as Secp256k1Module from '@noble/curves/secp256k1.js';
import { constantTimeEqual } from './compare.js';
import { randomBytes } from './random.js';
import { loadMlDsa, requireMlDsaLoaded, mlDsaExpand, mlDsaPkcs8, mlDsaPublicKeyOf, mlDsaSeedOf, mlDsaSign, mlDsaSpki, mlDsaVerify, ML_DSA_SEED_BYTES, type MlDsaKeys, type MlDsaSet } from './ml-dsa.js';
import { pssSignDigest, pssVerifyDigest } from './rsa-pss.js';
import { zeroize } from './zeroize.js';

/**
 * Private keys of asymmetric KMS keys: generated and used with node:crypto (OpenSSL) wherever it
 * can. Where OpenSSL 3.0 cannot (signing a caller's digest with ECDSA, Ed25519ph, ML-DSA) the
 * audited @noble libraries do it. Material is a PKCS#8 DER private key (ML-DSA: its seed form).
 */
export type EcCurve = 'P-256' | 'P-384' | 'P-521' | 'secp256k1';
export type AsymmetricType =
  | { readonly kind: 'rsa'; readonly bits: number }
  | { readonly kind: 'ec'; readonly curve: EcCurve }
  | { readonly kind: 'ed25519' }
  | { readonly kind: 'ml-dsa'; readonly set: MlDsaSet };
export type HashName = 'sha256' | 'sha384' | 'sha512';
export type SignatureScheme =
  | { readonly kind: 'rsa-pss' | 'rsa-pkcs1' | 'ecdsa'; readonly hash: HashName }
  | { readonly kind: 'ed25519' | 'ed25519ph' | 'ml-dsa' };
/** What the signed bytes are: the message itself, its digest, or (ML-DSA) the 64-byte mu. */
export type SignedInput = 'message' | 'digest' | 'mu';
export type OaepHash = 'sha1' | 'sha256';

/** Material or a peer's public key that is not a well-formed key of the expected type. */
export class KeyFormatError extends Error {}

const OPENSSL_CURVE: Record<EcCurve, string> = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1', secp256k1: 'secp256k1' };
interface NobleCurves {
  readonly ed25519ph: typeof Ed25519Module.ed25519ph;
  readonly curves: {
    readonly 'P-256': typeof NistModule.p256;
    readonly 'P-384': typeof NistModule.p384;
    readonly 'P-521': typeof NistModule.p521;
    readonly secp256k1: typeof Secp256k1Module.secp256k1;
  };
}
let noble: NobleCurves | undefined;
let loadingCurves: Promise<void> | undefined;

/**
 * Loads the @noble libraries (curves, ML-DSA) on first use: they cost start-up time every process
 * would pay otherwise, and most never sign with a curve OpenSSL cannot drive. Every path that
 * builds a key handle awaits this first (the keyring does); afterwards it resolves at once.
 */
export async function loadAsymmetricLibraries(): Promise<void> {
  loadingCurves ??= Promise.all([
    import('@noble/curves/ed25519.js'), import('@noble/curves/nist.js'), import('@noble/curves/secp256k1.js'),
  ]).then(([ed, nist, k1]) => {
    noble = { ed25519ph: ed.ed25519ph, curves: { 'P-256': nist.p256, 'P-384': nist.p384, 'P-521': nist.p521, secp256k1: k1.secp256k1 } };
  }).catch((e: unknown) => {
    loadingCurves = undefined;
    throw e;
  });
  await Promise.all([loadingCurves, loadMlDsa()]);
}

function requireLibraries(scheme: SignatureScheme, input: SignedInput): void {
  if (scheme.kind === 'ml-dsa') requireMlDsaLoaded();
  else if (scheme.kind === 'ed25519ph' || (scheme.kind === 'ecdsa' && input === 'digest')) nobleCurves();
}

function nobleCurves(): NobleCurves {
  if (noble === undefined) throw new Error('the @noble curves are not loaded: await loadAsymmetricLibraries() first');
  return noble;
}
/** DER DigestInfo prefixes of RFC 8017 section 9.2 (RSASSA-PKCS1-v1_5 over a given digest). */
const DIGEST_INFO: Record<HashName, Buffer> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

type GenerateOptions = { modulusLength: number; publicExponent: number } | { namedCurve: string } | Record<string, never>;

function generateDer(kind: 'rsa' | 'ec' | 'ed25519', options: GenerateOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const encoding = { privateKeyEncoding: { format: 'der', type: 'pkcs8' }, publicKeyEncoding: { format: 'der', type: 'spki' } } as const;
    const done = (e: Error | null, _pub: Buffer, priv: Buffer) => (e ? reject(e) : resolve(priv));
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- one call for three key types whose overloads differ only in options
    (generateKeyPair as any)(kind, { ...options, ...encoding }, done);
  });
}

/** A new private key of the type, as PKCS#8 DER (off the event loop: RSA 4096 takes seconds). */
export async function generatePrivateKey(type: AsymmetricType): Promise<Buffer> {
  switch (type.kind) {
    case 'rsa': return generateDer('rsa', { modulusLength: type.bits, publicExponent: 0x10001 });
    case 'ec': return generateDer('ec', { namedCurve: OPENSSL_CURVE[type.curve] });
    case 'ed25519': return generateDer('ed25519', {});
    case 'ml-dsa': {
      const seed = randomBytes(ML_DSA_SEED_BYTES);
      try {
        return mlDsaPkcs8(type.set, seed);
      } finally {
        zeroize(seed);
      }
    }
  }
}

/** The key parsed and checked against the expected type; throws KeyFormatError otherwise. */
function parse(type: AsymmetricType, pkcs8: Uint8Array): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(pkcs8.buffer, pkcs8.byteOffset, pkcs8.byteLength), format: 'der', type: 'pkcs8' });
  } catch {
    throw new KeyFormatError('the key material is not a DER-encoded PKCS#8 private key');
  }
  const d = key.asymmetricKeyDetails ?? {};
  const ok = type.kind === 'rsa' ? key.asymmetricKeyType === 'rsa' && d.modulusLength === type.bits
    : type.kind === 'ec' ? key.asymmetricKeyType === 'ec' && d.namedCurve === OPENSSL_CURVE[type.curve]
      : key.asymmetricKeyType === 'ed25519';
  if (!ok) throw new KeyFormatError(`the private key is not ${describe(type)}`);
  return key;
}

function describe(type: AsymmetricType): string {
  switch (type.kind) {
    case 'rsa': return `an RSA ${type.bits}-bit key`;
    case 'ec': return `an EC key on ${type.curve}`;
    case 'ed25519': return 'an Ed25519 key';
    case 'ml-dsa': return `an ${type.set} seed`;
  }
}

/** The canonical PKCS#8 encoding of imported material (so the same key always has the same bytes). */
export function canonicalPrivateKey(type: AsymmetricType, pkcs8: Uint8Array): Buffer {
  if (type.kind === 'ml-dsa') {
    const seed = mlDsaSeedOf(type.set, pkcs8);
    if (seed === undefined) throw new KeyFormatError(`the private key is not ${describe(type)} in PKCS#8 seed form`);
    try {
      return mlDsaPkcs8(type.set, seed);
    } finally {
      zeroize(seed);
    }
  }
  return parse(type, pkcs8).export({ format: 'der', type: 'pkcs8' });
}

/**
 * A public key ready for verification and encryption: Verify and Encrypt use this, so known-answer
 * vectors that carry only a public key test the very code the operations run.
 */
export class PublicKeyHandle {
  readonly der: Buffer;
  private readonly key: KeyObject | undefined;
  /** The raw point (EC: uncompressed; Ed25519, ML-DSA: the encoded key) for the @noble paths. */
  private readonly raw: Uint8Array | undefined;

  constructor(readonly type: AsymmetricType, spki: Uint8Array) {
    if (type.kind === 'ml-dsa') {
      this.raw = mlDsaPublicKeyOf(type.set, spki);
      if (this.raw === undefined) throw new KeyFormatError(`the public key is not ${describe(type)} public key`);
      this.der = Buffer.from(spki);
      return;
    }
    const key = publicKeyFromSpki(spki);
    // explicit curve parameters (a cofactor or generator of the sender's choosing) are refused: named curves only
    if (type.kind === 'ec' && !namesItsCurve(spki)) throw new KeyFormatError('the public key must name its curve, not give explicit parameters');
    const d = key.asymmetricKeyDetails ?? {};
    const ok = type.kind === 'rsa' ? key.asymmetricKeyType === 'rsa' && d.modulusLength === type.bits
      : type.kind === 'ec' ? key.asymmetricKeyType === 'ec' && d.namedCurve === OPENSSL_CURVE[type.curve]
        : key.asymmetricKeyType === 'ed25519';
    if (!ok) throw new KeyFormatError(`the public key is not ${describe(type)}`);
    this.key = key;
    this.der = key.export({ format: 'der', type: 'spki' });
    if (type.kind === 'ec' || type.kind === 'ed25519') {
      const jwk = key.export({ format: 'jwk' });
      const b = (s: string | undefined) => Buffer.from(s ?? '', 'base64url');
      this.raw = type.kind === 'ec' ? Buffer.concat([Buffer.from([4]), b(jwk.x), b(jwk.y)]) : b(jwk.x);
    }
  }

  /** Whether the signature is valid; malformed signatures are simply invalid. */
  verify(scheme: SignatureScheme, input: SignedInput, data: Uint8Array, signature: Uint8Array): boolean {
    requireLibraries(scheme, input); // outside the try: a missing library is a bug, not an invalid signature
    try {
      switch (scheme.kind) {
        case 'rsa-pss':
          if (input === 'digest') return pssVerifyDigest(this.node, this.bits, scheme.hash, data, signature);
          return verify(scheme.hash, data, { key: this.node, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, signature);
        case 'rsa-pkcs1': {
          if (input !== 'digest') return verify(scheme.hash, data, this.node, signature);
          if (signature.length !== Math.ceil(this.bits / 8)) return false;
          const recovered = publicDecrypt({ key: this.node, padding: constants.RSA_PKCS1_PADDING }, signature);
          return constantTimeEqual(recovered, Buffer.concat([DIGEST_INFO[scheme.hash], data]));
        }
        case 'ecdsa':
          if (input === 'digest') return curveOf(this.type).verify(signature, data, this.rawKey, { prehash: false, format: 'der', lowS: false });
          return verify(scheme.hash, data, { key: this.node, dsaEncoding: 'der' }, signature);
        case 'ed25519':
          return verify(null, data, this.node, signature);
        case 'ed25519ph':
          return nobleCurves().ed25519ph.verify(signature, data, this.rawKey, { zip215: false });
        case 'ml-dsa':
          return mlDsaVerify(mlDsaSetOf(this.type), this.rawKey, data, signature, input === 'mu');
      }
    } catch {
      return false;
    }
  }

  /** RSAES-OAEP with MGF1 of the same hash, as AWS KMS uses. */
  encryptOaep(hash: OaepHash, plaintext: Uint8Array): Buffer {
    return publicEncrypt({ key: this.node, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, plaintext);
  }

  /** The largest plaintext RSAES-OAEP takes with this key and hash. */
  maxOaepPlaintext(hash: OaepHash): number {
    return Math.ceil(this.bits / 8) - 2 * (hash === 'sha1' ? 20 : 32) - 2;
  }

  /** The key as OpenSSL holds it. */
  get node(): KeyObject {
    if (this.key === undefined) throw new KeyFormatError('not an OpenSSL key');
    return this.key;
  }

  private get bits(): number {
    return rsaBits(this.type);
  }

  private get rawKey(): Uint8Array {
    if (this.raw === undefined) throw new KeyFormatError('no raw public key');
    return this.raw;
  }
}

/** A private key ready for use; held in the bounded material cache and destroyed when it leaves. */
export class PrivateKeyHandle {
  readonly public: PublicKeyHandle;
  private readonly key: KeyObject | undefined;
  /** The secret scalar or seed for the @noble paths (zeroized on destroy). */
  private readonly secret: Uint8Array | undefined;
  private readonly mlDsa: MlDsaKeys | undefined;

  constructor(readonly type: AsymmetricType, pkcs8: Uint8Array) {
    if (type.kind === 'ml-dsa') {
      const seed = mlDsaSeedOf(type.set, pkcs8);
      if (seed === undefined) throw new KeyFormatError(`the private key is not ${describe(type)}`);
      this.mlDsa = mlDsaExpand(type.set, seed);
      zeroize(seed);
      this.public = new PublicKeyHandle(type, mlDsaSpki(type.set, this.mlDsa.publicKey));
      return;
    }
    this.key = parse(type, pkcs8);
    this.public = new PublicKeyHandle(type, createPublicKey(this.key).export({ format: 'der', type: 'spki' }));
    if (type.kind === 'ec' || type.kind === 'ed25519') {
      this.secret = Buffer.from(this.key.export({ format: 'jwk' }).d ?? '', 'base64url');
    }
  }

  get publicKeyDer(): Buffer {
    return this.public.der;
  }

  sign(scheme: SignatureScheme, input: SignedInput, data: Uint8Array): Buffer {
    switch (scheme.kind) {
      case 'rsa-pss':
        if (input === 'digest') return pssSignDigest(this.node, this.bits, scheme.hash, data);
        return sign(scheme.hash, data, { key: this.node, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST });
      case 'rsa-pkcs1':
        if (input === 'digest') return privateEncrypt({ key: this.node, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([DIGEST_INFO[scheme.hash], data]));
        return sign(scheme.hash, data, this.node);
      case 'ecdsa':
        if (input === 'digest') return Buffer.from(curveOf(this.type).sign(data, this.secretKey, { prehash: false, format: 'der', lowS: false }));
        return sign(scheme.hash, data, { key: this.node, dsaEncoding: 'der' });
      case 'ed25519':
        return sign(null, data, this.node);
      case 'ed25519ph':
        return Buffer.from(nobleCurves().ed25519ph.sign(data, this.secretKey));
      case 'ml-dsa':
        return Buffer.from(mlDsaSign(mlDsaSetOf(this.type), this.mlDsaKeys, data, input === 'mu'));
    }
  }

  verify(scheme: SignatureScheme, input: SignedInput, data: Uint8Array, signature: Uint8Array): boolean {
    return this.public.verify(scheme, input, data, signature);
  }

  /** Throws on any failure (callers answer with their one invalid-ciphertext error). */
  decryptOaep(hash: OaepHash, ciphertext: Uint8Array): Buffer {
    return privateDecrypt({ key: this.node, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, ciphertext);
  }

  /** ECDH with a peer's DER SubjectPublicKeyInfo on the same curve: the raw shared secret. */
  deriveSharedSecret(peerSpki: Uint8Array): Buffer {
    if (this.type.kind !== 'ec') throw new KeyFormatError('key agreement needs an EC key');
    const peer = new PublicKeyHandle(this.type, peerSpki);
    return diffieHellman({ privateKey: this.node, publicKey: peer.node });
  }

  destroy(): void {
    zeroize(this.secret, this.mlDsa?.secretKey);
  }

  private get node(): KeyObject {
    if (this.key === undefined) throw new KeyFormatError('not an OpenSSL key');
    return this.key;
  }

  private get bits(): number {
    return rsaBits(this.type);
  }

  private get secretKey(): Uint8Array {
    if (this.secret === undefined) throw new KeyFormatError('no raw secret key');
    return this.secret;
  }

  private get mlDsaKeys(): MlDsaKeys {
    if (this.mlDsa === undefined) throw new KeyFormatError('not an ML-DSA key');
    return this.mlDsa;
  }
}

function rsaBits(type: AsymmetricType): number {
  if (type.kind !== 'rsa') throw new KeyFormatError('not an RSA key');
  return type.bits;
}

function curveOf(type: AsymmetricType): NobleCurves['curves'][EcCurve] {
  if (type.kind !== 'ec') throw new KeyFormatError('not an EC key');
  return nobleCurves().curves[type.curve];
}

function mlDsaSetOf(type: AsymmetricType): MlDsaSet {
  if (type.kind !== 'ml-dsa') throw new KeyFormatError('not an ML-DSA key');
  return type.set;
}

/** Whether an EC SubjectPublicKeyInfo (already parsed by OpenSSL) has a curve OID as its algorithm parameters. */
function namesItsCurve(spki: Uint8Array): boolean {
  let i = 0;
  const enter = () => {
    const length = spki[i + 1] ?? 0;
    i += 2 + (length & 0x80 ? length & 0x7f : 0);
  };
  if (spki[i] !== 0x30) return false;
  enter();
  if (spki[i] !== 0x30) return false;
  enter();
  if (spki[i] !== 0x06) return false;
  i += 2 + (spki[i + 1] ?? 0);
  return spki[i] === 0x06;
}

/** A DER SubjectPublicKeyInfo; throws KeyFormatError if it is not one. */
export function publicKeyFromSpki(spki: Uint8Array): KeyObject {
  try {
    return createPublicKey({ key: Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength), format: 'der', type: 'spki' });
  } catch {
    throw new KeyFormatError('the public key is not a DER-encoded SubjectPublicKeyInfo');
  }
}

/** RSAES-OAEP encryption under a public key (wrapping keys, tests of callers' behaviour). */
export function oaepEncrypt(publicKey: KeyObject, hash: OaepHash, plaintext: Uint8Array): Buffer {
  return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, plaintext);
}
