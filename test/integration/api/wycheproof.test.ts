import {
  DecryptCommand, DeriveSharedSecretCommand, GetPublicKeyCommand, VerifyCommand, VerifyMacCommand, type MacAlgorithmSpec,
  type SigningAlgorithmSpec,
} from '@aws-sdk/client-kms';
import { createECDH, createPrivateKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf } from '../../helpers/errors.js';
import { importedKey } from '../../helpers/key-import.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { haveWycheproof, loadWycheproof, WYCHEPROOF_DIR } from '../../helpers/wycheproof.js';

/**
 * Wycheproof vectors through Keyward's Verify, VerifyMac, Decrypt and DeriveSharedSecret, with the
 * vectors' own keys imported (BYOK). The RSA signature vectors carry only the public key; it is the
 * key whose private half the RSA-OAEP file carries, so that private key is imported and must give
 * the same public key. ECDSA and Ed25519 vectors carry no private key: test/unit/crypto runs them
 * through the verification code of Verify directly.
 */

type Result = 'valid' | 'invalid' | 'acceptable';
interface SigCase { tcId: number; msg: string; sig: string; result: Result; flags: string[] }
interface SigGroup { publicKeyDer: string; sha: string; tests: SigCase[] }
interface MacCase { tcId: number; key: string; msg: string; tag: string; result: Result }
interface MacGroup { keySize: string; tagSize: string; tests: MacCase[] }
interface OaepCase { tcId: number; msg: string; ct: string; label: string; result: Result }
interface EcdhCase { tcId: number; public: string; private: string; shared: string; result: Result; flags: string[] }

const present = haveWycheproof();
if (!present) console.warn(`skipping Wycheproof vectors: expected at ${WYCHEPROOF_DIR}`);
const hex = (s: string) => Buffer.from(s, 'hex');

describe.runIf(present)('Wycheproof vectors through Keyward with imported keys', () => {
  let t: TestServer;
  beforeAll(async () => { t = await startTestServer(); });
  afterAll(async () => { await t?.close(); });

  const oaep = () => loadWycheproof<{ testGroups: Array<{ privateKeyPkcs8: string; tests: OaepCase[] }> }>('rsa_oaep_2048_sha256_mgf1sha256_test.json');

  /** Runs signature vectors through Verify (RAW); returns how many ran. */
  async function verifyAll(keyId: string, spki: Buffer, groups: SigGroup[], algorithm: SigningAlgorithmSpec): Promise<number> {
    let ran = 0;
    for (const g of groups.filter((g) => hex(g.publicKeyDer).equals(spki))) {
      for (const c of g.tests) {
        if (c.result === 'acceptable' || c.msg.length === 0) continue; // AWS takes messages of 1 byte and more
        const call = t.kms.send(new VerifyCommand({ KeyId: keyId, Message: hex(c.msg), Signature: c.sig.length > 0 ? hex(c.sig) : Buffer.alloc(1), SigningAlgorithm: algorithm }));
        if (c.result === 'valid') expect((await call).SignatureValid, `tcId ${c.tcId}`).toBe(true);
        else expect((await errorOf(call)).name, `tcId ${c.tcId} ${c.flags.join(',')}`).toBe('KMSInvalidSignatureException');
        ran++;
      }
    }
    return ran;
  }

  it('RSA-PSS (SHA-256, MGF1, 32-byte salt) and RSASSA-PKCS1-v1_5 (SHA-256) through Verify', async () => {
    const pkcs8 = hex(oaep().testGroups[0]!.privateKeyPkcs8);
    const keyId = await importedKey(t.kms, 'RSA_2048', 'SIGN_VERIFY', pkcs8);
    const spki = Buffer.from((await t.kms.send(new GetPublicKeyCommand({ KeyId: keyId }))).PublicKey!);
    const pss = loadWycheproof<{ testGroups: SigGroup[] }>('rsa_pss_2048_sha256_mgf1_32_test.json');
    const pkcs1 = loadWycheproof<{ testGroups: SigGroup[] }>('rsa_signature_2048_sha256_test.json');
    expect(await verifyAll(keyId, spki, pss.testGroups, 'RSASSA_PSS_SHA_256')).toBeGreaterThan(90);
    expect(await verifyAll(keyId, spki, pkcs1.testGroups, 'RSASSA_PKCS1_V1_5_SHA_256')).toBeGreaterThan(200);
  }, 120_000);

  it('RSAES-OAEP (SHA-256) through Decrypt: valid cases give the message, every invalid one the same InvalidCiphertextException', async () => {
    const file = oaep();
    const keyId = await importedKey(t.kms, 'RSA_2048', 'ENCRYPT_DECRYPT', hex(file.testGroups[0]!.privateKeyPkcs8));
    let ran = 0;
    for (const c of file.testGroups[0]!.tests) {
      if (c.label !== '' || c.result === 'acceptable' || c.ct === '') continue; // AWS uses the empty label and takes no empty ciphertext
      const call = t.kms.send(new DecryptCommand({ KeyId: keyId, CiphertextBlob: hex(c.ct), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
      if (c.result === 'valid') expect(Buffer.from((await call).Plaintext ?? []).toString('hex'), `tcId ${c.tcId}`).toBe(c.msg);
      else expect((await errorOf(call)).name, `tcId ${c.tcId}`).toBe('InvalidCiphertextException');
      ran++;
    }
    expect(ran).toBeGreaterThan(20);
  }, 60_000);

  it('HMAC-SHA-256/384/512 through VerifyMac, each vector key imported into an HMAC key', async () => {
    const files = [
      ['hmac_sha256_test.json', 'HMAC_256', 'HMAC_SHA_256', 256, 32, 64],
      ['hmac_sha384_test.json', 'HMAC_384', 'HMAC_SHA_384', 384, 48, 128],
      ['hmac_sha512_test.json', 'HMAC_512', 'HMAC_SHA_512', 512, 64, 128],
    ] as const;
    let ran = 0;
    for (const [name, spec, alg, bits, min, max] of files) {
      const groups = loadWycheproof<{ testGroups: MacGroup[] }>(name).testGroups.filter((g) => Number(g.tagSize) === bits);
      const keys = new Map<string, string>();
      let validKeys = 0;
      for (const g of groups) {
        for (const c of g.tests) {
          const key = hex(c.key);
          if (key.length < min || key.length > max || c.msg.length === 0) continue;
          // every invalid case runs; of the valid ones (a fresh key each) the first eight do, so the file costs
          // a dozen imports instead of ninety (an RSA wrapping key is generated for each)
          if (c.result === 'valid' && !keys.has(c.key) && ++validKeys > 6) continue;
          if (!keys.has(c.key)) keys.set(c.key, await importedKey(t.kms, spec, 'GENERATE_VERIFY_MAC', key));
          const call = t.kms.send(new VerifyMacCommand({ KeyId: keys.get(c.key), Message: hex(c.msg), Mac: hex(c.tag), MacAlgorithm: alg as MacAlgorithmSpec }));
          if (c.result === 'valid') expect((await call).MacValid, `${name} tcId ${c.tcId}`).toBe(true);
          else expect((await errorOf(call)).name, `${name} tcId ${c.tcId}`).toBe('KMSInvalidMacException');
          ran++;
        }
      }
      // the vectors' keys outside AWS's sizes for the spec are refused on import
      const short = groups.flatMap((g) => g.tests).find((c) => hex(c.key).length < min);
      if (short) expect((await errorOf(importedKey(t.kms, spec, 'GENERATE_VERIFY_MAC', hex(short.key)))).name).toBe('IncorrectKeyMaterialException');
    }
    expect(ran).toBeGreaterThan(90);
  }, 300_000);

  it('ECDH P-256 through DeriveSharedSecret with the vectors\' private keys imported', async () => {
    const file = loadWycheproof<{ testGroups: Array<{ curve: string; tests: EcdhCase[] }> }>('ecdh_secp256r1_test.json');
    const cases = file.testGroups[0]!.tests.filter((c) => c.result !== 'acceptable');
    // every case of the keys with invalid cases, and of the four keys with the most cases (each key costs an import)
    const count = new Map<string, number>();
    for (const c of cases) count.set(c.private, (count.get(c.private) ?? 0) + 1);
    const busiest = [...count.entries()].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k]) => k);
    const chosen = new Set([...cases.filter((c) => c.result === 'invalid').map((c) => c.private), ...busiest]);
    const keys = new Map<string, string>();
    let ran = 0;
    for (const c of cases) {
      if (!chosen.has(c.private)) continue;
      if (!keys.has(c.private)) {
        const d = hex(c.private);
        const scalar = d.length > 32 ? d.subarray(d.length - 32) : Buffer.concat([Buffer.alloc(32 - d.length), d]);
        const ecdh = createECDH('prime256v1');
        ecdh.setPrivateKey(scalar);
        const point = ecdh.getPublicKey();
        const b64 = (b: Buffer) => b.toString('base64url');
        const pkcs8 = createPrivateKey({ key: { kty: 'EC', crv: 'P-256', d: b64(scalar), x: b64(point.subarray(1, 33)), y: b64(point.subarray(33)) }, format: 'jwk' })
          .export({ format: 'der', type: 'pkcs8' });
        keys.set(c.private, await importedKey(t.kms, 'ECC_NIST_P256', 'KEY_AGREEMENT', pkcs8));
      }
      const call = t.kms.send(new DeriveSharedSecretCommand({ KeyId: keys.get(c.private), KeyAgreementAlgorithm: 'ECDH', PublicKey: c.public.length > 0 ? hex(c.public) : Buffer.alloc(1) }));
      if (c.result === 'valid') expect(Buffer.from((await call).SharedSecret!).toString('hex'), `tcId ${c.tcId}`).toBe(c.shared);
      else expect((await errorOf(call)).name, `tcId ${c.tcId} ${c.flags.join(',')}`).toBe('ValidationException');
      ran++;
    }
    expect(ran).toBeGreaterThan(250);
  }, 300_000);
});
