import { ed25519ph } from '@noble/curves/ed25519.js';
import { constants, createHash, generateKeyPairSync, verify } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  loadAsymmetricLibraries,
  aesKeyUnwrapPad, aesKeyWrapPad, canonicalPrivateKey, generatePrivateKey, KeyFormatError, mlDsaPkcs8, PrivateKeyHandle,
  PublicKeyHandle, type AsymmetricType, type HashName, type SignatureScheme,
} from '../../../src/crypto/index.js';
import { haveWycheproof, loadWycheproof, WYCHEPROOF_DIR } from '../../helpers/wycheproof.js';

// the @noble libraries load on first use; the keyring awaits this before building handles
beforeAll(async () => { await loadAsymmetricLibraries(); });

/**
 * The verification code of Verify (PublicKeyHandle.verify) against Wycheproof vectors that carry
 * only a public key, on both of its paths: the whole message (OpenSSL) and the caller's digest
 * (@noble for ECDSA, RFC 8017 encodings over OpenSSL's raw RSA for RSA).
 */
type Result = 'valid' | 'invalid' | 'acceptable';
interface SigCase { tcId: number; msg: string; sig: string; result: Result; flags: string[] }
interface SigGroup { publicKeyDer: string; sha: string; tests: SigCase[] }

const present = haveWycheproof();
if (!present) console.warn(`skipping Wycheproof vectors: expected at ${WYCHEPROOF_DIR}`);
const hex = (s: string) => Buffer.from(s, 'hex');
const HASH: Record<string, HashName> = { 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };

function runVectors(file: string, type: AsymmetricType, scheme: (sha: string) => SignatureScheme, digestPath: boolean): number {
  const groups = loadWycheproof<{ testGroups: SigGroup[] }>(file).testGroups;
  let ran = 0;
  for (const g of groups) {
    let handle: PublicKeyHandle;
    try {
      handle = new PublicKeyHandle(type, hex(g.publicKeyDer));
    } catch (e) {
      // a group whose key is not of the type (another modulus size) is refused as such
      expect(e).toBeInstanceOf(KeyFormatError);
      continue;
    }
    const s = scheme(g.sha);
    for (const c of g.tests) {
      if (c.result === 'acceptable') continue;
      const expected = c.result === 'valid';
      expect(handle.verify(s, 'message', hex(c.msg), hex(c.sig)), `${file} tcId ${c.tcId} message`).toBe(expected);
      if (digestPath && 'hash' in s) {
        const digest = createHash(s.hash).update(hex(c.msg)).digest();
        expect(handle.verify(s, 'digest', digest, hex(c.sig)), `${file} tcId ${c.tcId} digest ${c.flags.join(',')}`).toBe(expected);
      }
      ran++;
    }
  }
  return ran;
}

describe.runIf(present)('Wycheproof signature vectors through PublicKeyHandle.verify (the code of Verify)', () => {
  for (const [file, curve] of [
    ['ecdsa_secp256r1_sha256_test.json', 'P-256'], ['ecdsa_secp384r1_sha384_test.json', 'P-384'],
    ['ecdsa_secp521r1_sha512_test.json', 'P-521'], ['ecdsa_secp256k1_sha256_test.json', 'secp256k1'],
  ] as const) {
    it(`ECDSA ${curve}: DER signatures over the message and over its digest`, () => {
      expect(runVectors(file, { kind: 'ec', curve }, (sha) => ({ kind: 'ecdsa', hash: HASH[sha]! }), true)).toBeGreaterThan(300);
    });
  }

  it('Ed25519 (pure, RFC 8032 strict)', () => {
    expect(runVectors('ed25519_test.json', { kind: 'ed25519' }, () => ({ kind: 'ed25519' }), false)).toBeGreaterThan(100);
  });

  it('RSA-PSS and RSASSA-PKCS1-v1_5 2048/SHA-256, over the message and over its digest', () => {
    const type = { kind: 'rsa', bits: 2048 } as const;
    expect(runVectors('rsa_pss_2048_sha256_mgf1_32_test.json', type, (sha) => ({ kind: 'rsa-pss', hash: HASH[sha]! }), true)).toBeGreaterThan(90);
    expect(runVectors('rsa_signature_2048_sha256_test.json', type, (sha) => ({ kind: 'rsa-pkcs1', hash: HASH[sha]! }), true)).toBeGreaterThan(200);
  });
});

describe('private keys: sign over a digest as OpenSSL signs the message', () => {
  const message = Buffer.from('the message');

  it('RSA-PSS and PKCS#1 v1.5 over a digest verify with node:crypto over the message (2048 and 3072 bits)', async () => {
    for (const bits of [2048, 3072]) {
      const type = { kind: 'rsa', bits } as const;
      const handle = new PrivateKeyHandle(type, await generatePrivateKey(type));
      const pub = handle.public.node;
      for (const hash of ['sha256', 'sha384', 'sha512'] as const) {
        const digest = createHash(hash).update(message).digest();
        const pss = handle.sign({ kind: 'rsa-pss', hash }, 'digest', digest);
        expect(verify(hash, message, { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, pss)).toBe(true);
        expect(handle.verify({ kind: 'rsa-pss', hash }, 'digest', digest, pss)).toBe(true);
        const pkcs1 = handle.sign({ kind: 'rsa-pkcs1', hash }, 'digest', digest);
        // PKCS#1 v1.5 is deterministic: the same bytes as OpenSSL signing the whole message
        expect(pkcs1).toEqual(handle.sign({ kind: 'rsa-pkcs1', hash }, 'message', message));
        expect(verify(hash, message, pub, pkcs1)).toBe(true);
      }
    }
  });

  it('ECDSA over a digest (@noble) verifies with OpenSSL over the message, on every curve', async () => {
    for (const [curve, hash] of [['P-256', 'sha256'], ['P-384', 'sha384'], ['P-521', 'sha512'], ['secp256k1', 'sha256']] as const) {
      const handle = new PrivateKeyHandle({ kind: 'ec', curve }, await generatePrivateKey({ kind: 'ec', curve }));
      const sig = handle.sign({ kind: 'ecdsa', hash }, 'digest', createHash(hash).update(message).digest());
      expect(verify(hash, message, { key: handle.public.node, dsaEncoding: 'der' }, sig), curve).toBe(true);
    }
  });

  it('Ed25519ph signs the digest it is given (hashed once more), as AWS ED25519_PH_SHA_512 does', async () => {
    const handle = new PrivateKeyHandle({ kind: 'ed25519' }, await generatePrivateKey({ kind: 'ed25519' }));
    const digest = createHash('sha512').update(message).digest();
    const sig = handle.sign({ kind: 'ed25519ph' }, 'digest', digest);
    const raw = handle.public.der.subarray(handle.public.der.length - 32);
    expect(ed25519ph.verify(sig, digest, raw)).toBe(true);
    expect(ed25519ph.verify(sig, message, raw)).toBe(false);
  });

  it('imported material is checked and made canonical: the wrong type, curve or size is a KeyFormatError', async () => {
    const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const pkcs8 = p256.export({ format: 'der', type: 'pkcs8' });
    expect(canonicalPrivateKey({ kind: 'ec', curve: 'P-256' }, pkcs8)).toEqual(pkcs8);
    for (const [type, bad] of [
      [{ kind: 'ec', curve: 'P-384' }, pkcs8], [{ kind: 'rsa', bits: 2048 }, pkcs8], [{ kind: 'ed25519' }, Buffer.from('junk')],
      [{ kind: 'ml-dsa', set: 'ml_dsa44' }, mlDsaPkcs8('ml_dsa65', Buffer.alloc(32, 1))],
    ] as const) {
      expect(() => canonicalPrivateKey(type, bad)).toThrow(KeyFormatError);
    }
  });

  it('AES key wrap with padding (RFC 5649) round-trips and detects any change', () => {
    const kek = Buffer.alloc(32, 9);
    const wrapped = aesKeyWrapPad(kek, Buffer.from('key material of odd length'));
    expect(aesKeyUnwrapPad(kek, wrapped).toString()).toBe('key material of odd length');
    wrapped[0]! ^= 1;
    expect(() => aesKeyUnwrapPad(kek, wrapped)).toThrow();
  });
});
