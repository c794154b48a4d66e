import {
  CreateKeyCommand, DecryptCommand, DeriveSharedSecretCommand, DescribeKeyCommand, DisableKeyCommand, EnableKeyCommand,
  EnableKeyRotationCommand, EncryptCommand, GenerateDataKeyCommand, GenerateDataKeyPairCommand,
  GenerateDataKeyPairWithoutPlaintextCommand, GenerateMacCommand, GetKeyRotationStatusCommand, GetPublicKeyCommand, ListKeyRotationsCommand,
  ReEncryptCommand, RotateKeyOnDemandCommand, ScheduleKeyDeletionCommand, SignCommand, VerifyCommand, VerifyMacCommand,
  type KeySpec, type SigningAlgorithmSpec,
} from '@aws-sdk/client-kms';
import { ed25519ph } from '@noble/curves/ed25519.js';
import { ml_dsa44, ml_dsa65, ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import { execFileSync } from 'node:child_process';
import {
  constants, createECDH, createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync,
  publicEncrypt, verify, type KeyObject,
} from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf } from '../../helpers/errors.js';
import { startTestServer, tempDir, type TestServer } from '../../helpers/server.js';
import { requireTool } from '../../helpers/services.js';

/** Asymmetric and HMAC keys over the AWS protocol, checked against openssl, node:crypto and @noble. */

const HASH = { '256': 'sha256', '384': 'sha384', '512': 'sha512' } as const;
const hashOf = (alg: string) => HASH[alg.slice(-3) as keyof typeof HASH];
const RSA_SIGNING = ['RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512', 'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512'] as const;
const SIGNING: Record<string, readonly SigningAlgorithmSpec[]> = {
  RSA_2048: RSA_SIGNING, RSA_3072: RSA_SIGNING, RSA_4096: RSA_SIGNING,
  ECC_NIST_P256: ['ECDSA_SHA_256'], ECC_NIST_P384: ['ECDSA_SHA_384'], ECC_NIST_P521: ['ECDSA_SHA_512'], ECC_SECG_P256K1: ['ECDSA_SHA_256'],
  ECC_NIST_EDWARDS25519: ['ED25519_SHA_512', 'ED25519_PH_SHA_512'],
  ML_DSA_44: ['ML_DSA_SHAKE_256'], ML_DSA_65: ['ML_DSA_SHAKE_256'], ML_DSA_87: ['ML_DSA_SHAKE_256'],
};
const ML_DSA = { ML_DSA_44: ml_dsa44, ML_DSA_65: ml_dsa65, ML_DSA_87: ml_dsa87 } as const;
const haveOpenssl = requireTool('/usr/bin/openssl', 'openssl');

describe('asymmetric and HMAC keys over the AWS protocol', () => {
  let t: TestServer;
  let dir: string;
  const signingKeys = new Map<string, string>();
  beforeAll(async () => {
    t = await startTestServer();
    dir = tempDir('keyward-asym-');
    // RSA generation runs off the event loop: create every signing key at once
    await Promise.all(Object.keys(SIGNING).map(async (spec) => {
      const k = await t.kms.send(new CreateKeyCommand({ KeySpec: spec as KeySpec, KeyUsage: 'SIGN_VERIFY' }));
      signingKeys.set(spec, k.KeyMetadata!.KeyId!);
    }));
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const spkiOf = async (keyId: string) => Buffer.from((await t.kms.send(new GetPublicKeyCommand({ KeyId: keyId }))).PublicKey!);

  /** openssl dgst -verify over the original message, with the public key GetPublicKey returned. */
  function opensslVerifies(spki: Buffer, alg: string, message: Buffer, signature: Buffer): boolean {
    const pub = join(dir, 'pub.der');
    const msg = join(dir, 'msg.bin');
    const sig = join(dir, 'sig.bin');
    writeFileSync(pub, spki);
    writeFileSync(msg, message);
    writeFileSync(sig, signature);
    const args = alg.startsWith('ED25519')
      ? ['pkeyutl', '-verify', '-pubin', '-keyform', 'DER', '-inkey', pub, '-rawin', '-in', msg, '-sigfile', sig]
      : ['dgst', `-${hashOf(alg)}`, '-keyform', 'DER', '-verify', pub, '-signature', sig,
        ...(alg.startsWith('RSASSA_PSS') ? ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:digest'] : []), msg];
    try {
      execFileSync('openssl', args, { stdio: 'pipe' });
      return true;
    } catch {
      return false;
    }
  }

  function nodeVerifies(spki: Buffer, alg: string, message: Buffer, signature: Buffer): boolean {
    const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    if (alg === 'ED25519_SHA_512') return verify(null, message, key, signature);
    const opts = alg.startsWith('RSASSA_PSS')
      ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
      : { key, dsaEncoding: 'der' as const };
    return verify(hashOf(alg), message, opts, signature);
  }

  it('DescribeKey and GetPublicKey report every signing spec as AWS does, with a DER SubjectPublicKeyInfo', async () => {
    for (const [spec, keyId] of signingKeys) {
      const meta = (await t.kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
      expect(meta.KeySpec).toBe(spec);
      expect(meta.CustomerMasterKeySpec).toBe(spec);
      expect(meta.KeyUsage).toBe('SIGN_VERIFY');
      expect(meta.SigningAlgorithms).toEqual(SIGNING[spec]);
      expect(meta.EncryptionAlgorithms).toBeUndefined();
      const pub = await t.kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
      expect(pub.KeyId).toBe(meta.Arn);
      expect(pub.KeySpec).toBe(spec);
      expect(pub.KeyUsage).toBe('SIGN_VERIFY');
      expect(pub.SigningAlgorithms).toEqual(SIGNING[spec]);
      if (!spec.startsWith('ML_DSA')) {
        const key = createPublicKey({ key: Buffer.from(pub.PublicKey!), format: 'der', type: 'spki' });
        expect(key.asymmetricKeyType).toBe(spec.startsWith('RSA') ? 'rsa' : spec === 'ECC_NIST_EDWARDS25519' ? 'ed25519' : 'ec');
        if (spec.startsWith('RSA')) expect(key.asymmetricKeyDetails?.modulusLength).toBe(Number(spec.slice(4)));
      }
    }
  });

  it.runIf(haveOpenssl)('every spec and algorithm: Sign (RAW and DIGEST) verifies with openssl, node:crypto and Verify', async () => {
    const message = Buffer.from('a message signed by Keyward, verified by openssl');
    let checked = 0;
    for (const [spec, keyId] of signingKeys) {
      if (spec.startsWith('ML_DSA') || !haveOpenssl) continue;
      const spki = await spkiOf(keyId);
      for (const alg of SIGNING[spec]!) {
        const types = alg === 'ED25519_SHA_512' ? ['RAW'] as const : alg === 'ED25519_PH_SHA_512' ? ['DIGEST'] as const : ['RAW', 'DIGEST'] as const;
        for (const type of types) {
          const input = type === 'RAW' ? message : createHash(hashOf(alg)).update(message).digest();
          const s = await t.kms.send(new SignCommand({ KeyId: keyId, Message: input, MessageType: type, SigningAlgorithm: alg }));
          expect(s.SigningAlgorithm).toBe(alg);
          const sig = Buffer.from(s.Signature!);
          if (alg === 'ED25519_PH_SHA_512') {
            // HashEdDSA over the caller's digest (hashed once more: FIPS 186-5 7.8.1); OpenSSL 3.0 has no Ed25519ph
            const raw = createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({ format: 'jwk' }).x!;
            expect(ed25519ph.verify(sig, input, Buffer.from(raw, 'base64url'), { zip215: false }), `${spec} ${alg}`).toBe(true);
          } else {
            expect(opensslVerifies(spki, alg, message, sig), `openssl ${spec} ${alg} ${type}`).toBe(true);
            expect(nodeVerifies(spki, alg, message, sig), `node ${spec} ${alg} ${type}`).toBe(true);
            expect(opensslVerifies(spki, alg, Buffer.concat([message, Buffer.from('!')]), sig)).toBe(false);
          }
          const v = await t.kms.send(new VerifyCommand({ KeyId: keyId, Message: input, MessageType: type, Signature: sig, SigningAlgorithm: alg }));
          expect(v.SignatureValid).toBe(true);
          checked++;
        }
      }
    }
    expect(checked).toBe(3 * 6 * 2 + 4 * 2 + 2);
  }, 120_000);

  it('ECDSA signatures are DER (as AWS returns them) and signatures made locally verify through Keyward', async () => {
    const keyId = signingKeys.get('ECC_NIST_P256')!;
    const sig = Buffer.from((await t.kms.send(new SignCommand({ KeyId: keyId, Message: Buffer.from('der'), SigningAlgorithm: 'ECDSA_SHA_256' }))).Signature!);
    expect(sig[0]).toBe(0x30);
    expect(sig[1]).toBe(sig.length - 2);
    // a key pair made here, imported nowhere: Keyward's Verify must refuse its signature
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const foreign = (await import('node:crypto')).sign('sha256', Buffer.from('der'), { key: other.privateKey, dsaEncoding: 'der' });
    expect((await errorOf(t.kms.send(new VerifyCommand({ KeyId: keyId, Message: Buffer.from('der'), Signature: foreign, SigningAlgorithm: 'ECDSA_SHA_256' })))).name).toBe('KMSInvalidSignatureException');
  });

  it('ML-DSA (44, 65, 87): RAW and EXTERNAL_MU signatures verify with @noble/post-quantum and through Verify', async () => {
    for (const spec of ['ML_DSA_44', 'ML_DSA_65', 'ML_DSA_87'] as const) {
      const keyId = signingKeys.get(spec)!;
      const spki = await spkiOf(keyId);
      const impl = ML_DSA[spec];
      const raw = spki.subarray(spki.length - impl.lengths.publicKey!);
      // the SPKI names id-ml-dsa-44/65/87 (2.16.840.1.101.3.4.3.17/18/19)
      expect(spki.includes(Buffer.from([0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, { ML_DSA_44: 0x11, ML_DSA_65: 0x12, ML_DSA_87: 0x13 }[spec]]))).toBe(true);
      const message = Buffer.from(`post-quantum ${spec}`);
      const sig = Buffer.from((await t.kms.send(new SignCommand({ KeyId: keyId, Message: message, SigningAlgorithm: 'ML_DSA_SHAKE_256' }))).Signature!);
      expect(impl.verify(sig, message, raw)).toBe(true);
      expect((await t.kms.send(new VerifyCommand({ KeyId: keyId, Message: message, Signature: sig, SigningAlgorithm: 'ML_DSA_SHAKE_256' }))).SignatureValid).toBe(true);
      // mu = SHAKE256(SHAKE256(pk, 64) || 0 || 0 || M, 64) (FIPS 204, pure ML-DSA with an empty context)
      const { shake256 } = await import('@noble/hashes/sha3.js');
      const tr = shake256(raw, { dkLen: 64 });
      const mu = shake256(Buffer.concat([tr, Buffer.from([0, 0]), message]), { dkLen: 64 });
      const muSig = Buffer.from((await t.kms.send(new SignCommand({ KeyId: keyId, Message: mu, MessageType: 'EXTERNAL_MU', SigningAlgorithm: 'ML_DSA_SHAKE_256' }))).Signature!);
      expect(impl.verify(muSig, message, raw)).toBe(true);
      expect((await errorOf(t.kms.send(new SignCommand({ KeyId: keyId, Message: Buffer.alloc(32), MessageType: 'EXTERNAL_MU', SigningAlgorithm: 'ML_DSA_SHAKE_256' })))).name).toBe('ValidationException');
      expect((await errorOf(t.kms.send(new SignCommand({ KeyId: keyId, Message: Buffer.alloc(64), MessageType: 'DIGEST', SigningAlgorithm: 'ML_DSA_SHAKE_256' })))).name).toBe('ValidationException');
    }
  }, 60_000);

  it('Sign and Verify refuse bad input as AWS does, and a bad signature is KMSInvalidSignatureException, never a 500', async () => {
    const p256 = signingKeys.get('ECC_NIST_P256')!;
    const rsa = signingKeys.get('RSA_2048')!;
    const ed = signingKeys.get('ECC_NIST_EDWARDS25519')!;
    const sign = (input: Record<string, unknown>) => errorOf(t.kms.send(new SignCommand({ KeyId: p256, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256', ...input })));
    expect((await sign({ SigningAlgorithm: 'ECDSA_SHA_384' })).name).toBe('InvalidKeyUsageException');
    expect((await sign({ SigningAlgorithm: 'RSASSA_PSS_SHA_256' })).name).toBe('InvalidKeyUsageException');
    expect((await sign({ Message: Buffer.alloc(4097) })).name).toBe('ValidationException');
    expect((await sign({ Message: Buffer.alloc(31), MessageType: 'DIGEST' })).name).toBe('ValidationException');
    expect((await sign({ Message: Buffer.alloc(48), MessageType: 'DIGEST' })).name).toBe('ValidationException');
    expect((await sign({ MessageType: 'EXTERNAL_MU', Message: Buffer.alloc(64) })).name).toBe('ValidationException');
    expect((await sign({ SigningAlgorithm: 'SM2DSA' })).name).toBe('InvalidKeyUsageException');
    expect((await errorOf(t.kms.send(new SignCommand({ KeyId: ed, Message: Buffer.alloc(64), MessageType: 'DIGEST', SigningAlgorithm: 'ED25519_SHA_512' })))).name).toBe('ValidationException');
    expect((await errorOf(t.kms.send(new SignCommand({ KeyId: ed, Message: Buffer.from('raw'), MessageType: 'RAW', SigningAlgorithm: 'ED25519_PH_SHA_512' })))).name).toBe('ValidationException');
    // a symmetric key cannot sign; a signing key cannot encrypt
    const symmetric = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    expect((await errorOf(t.kms.send(new SignCommand({ KeyId: symmetric, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' })))).name).toBe('InvalidKeyUsageException');
    expect((await errorOf(t.kms.send(new EncryptCommand({ KeyId: p256, Plaintext: Buffer.from('m') })))).name).toBe('InvalidKeyUsageException');
    expect((await errorOf(t.kms.send(new GenerateDataKeyCommand({ KeyId: rsa, KeySpec: 'AES_256' })))).name).toBe('InvalidKeyUsageException');
    expect((await errorOf(t.kms.send(new GetPublicKeyCommand({ KeyId: symmetric })))).name).toBe('UnsupportedOperationException');
    // malformed and wrong signatures: the same exception, the server answers the next request
    const good = Buffer.from((await t.kms.send(new SignCommand({ KeyId: rsa, Message: Buffer.from('m'), SigningAlgorithm: 'RSASSA_PSS_SHA_256' }))).Signature!);
    const flipped = Buffer.from(good);
    flipped[10]! ^= 1;
    for (const [keyId, alg, sig] of [
      [rsa, 'RSASSA_PSS_SHA_256', flipped], [rsa, 'RSASSA_PSS_SHA_256', Buffer.alloc(1)], [rsa, 'RSASSA_PKCS1_V1_5_SHA_256', good],
      [rsa, 'RSASSA_PSS_SHA_256', Buffer.alloc(256, 0xff)], [p256, 'ECDSA_SHA_256', Buffer.from('3006020101020101', 'hex')],
      [p256, 'ECDSA_SHA_256', Buffer.from('not DER at all')], [ed, 'ED25519_SHA_512', Buffer.alloc(64)], [ed, 'ED25519_SHA_512', Buffer.alloc(3)],
    ] as const) {
      const e = await errorOf(t.kms.send(new VerifyCommand({ KeyId: keyId, Message: Buffer.from('m'), Signature: sig, SigningAlgorithm: alg })));
      expect(e.name, `${alg} ${sig.length}`).toBe('KMSInvalidSignatureException');
      expect(e.$metadata.httpStatusCode).toBe(400);
    }
    expect((await errorOf(t.kms.send(new VerifyCommand({ KeyId: rsa, Message: Buffer.alloc(31), MessageType: 'DIGEST', Signature: good, SigningAlgorithm: 'RSASSA_PSS_SHA_256' })))).name).toBe('ValidationException');
  });

  it('RSA ENCRYPT_DECRYPT: a ciphertext made locally with the public key decrypts through Keyward; Encrypt, ReEncrypt and the limits', async () => {
    for (const spec of ['RSA_2048', 'RSA_3072', 'RSA_4096'] as const) {
      const meta = (await t.kms.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: 'ENCRYPT_DECRYPT' }))).KeyMetadata!;
      expect(meta.EncryptionAlgorithms).toEqual(['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256']);
      expect(meta.SigningAlgorithms).toBeUndefined();
      const key = createPublicKey({ key: await spkiOf(meta.KeyId!), format: 'der', type: 'spki' });
      const bytes = Number(spec.slice(4)) / 8;
      for (const [alg, hash] of [['RSAES_OAEP_SHA_1', 'sha1'], ['RSAES_OAEP_SHA_256', 'sha256']] as const) {
        const max = bytes - 2 * (hash === 'sha1' ? 20 : 32) - 2;
        const plaintext = Buffer.alloc(max, 7);
        const local = publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, plaintext);
        const dec = await t.kms.send(new DecryptCommand({ KeyId: meta.KeyId, CiphertextBlob: local, EncryptionAlgorithm: alg }));
        expect(Buffer.from(dec.Plaintext!)).toEqual(plaintext);
        expect(dec.EncryptionAlgorithm).toBe(alg);
        const enc = await t.kms.send(new EncryptCommand({ KeyId: meta.KeyId, Plaintext: Buffer.from('through Keyward'), EncryptionAlgorithm: alg }));
        expect(enc.CiphertextBlob!.length).toBe(bytes);
        expect(Buffer.from((await t.kms.send(new DecryptCommand({ KeyId: meta.KeyId, CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm: alg }))).Plaintext!).toString()).toBe('through Keyward');
        expect((await errorOf(t.kms.send(new EncryptCommand({ KeyId: meta.KeyId, Plaintext: Buffer.alloc(max + 1), EncryptionAlgorithm: alg })))).name).toBe('ValidationException');
      }
      if (spec !== 'RSA_2048') continue;
      // the rules: algorithm required, KeyId required, no context, the one invalid-ciphertext error
      const enc = await t.kms.send(new EncryptCommand({ KeyId: meta.KeyId, Plaintext: Buffer.from('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
      expect((await errorOf(t.kms.send(new EncryptCommand({ KeyId: meta.KeyId, Plaintext: Buffer.from('x') })))).name).toBe('InvalidKeyUsageException');
      expect((await errorOf(t.kms.send(new EncryptCommand({ KeyId: meta.KeyId, Plaintext: Buffer.from('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256', EncryptionContext: { a: 'b' } })))).name).toBe('ValidationException');
      expect((await errorOf(t.kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })))).name).toBe('ValidationException');
      expect((await errorOf(t.kms.send(new DecryptCommand({ KeyId: meta.KeyId, CiphertextBlob: enc.CiphertextBlob })))).name).toBe('InvalidKeyUsageException');
      expect((await errorOf(t.kms.send(new DecryptCommand({ KeyId: meta.KeyId, CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' })))).name).toBe('InvalidCiphertextException');
      const tampered = Buffer.from(enc.CiphertextBlob!);
      tampered[5]! ^= 1;
      expect((await errorOf(t.kms.send(new DecryptCommand({ KeyId: meta.KeyId, CiphertextBlob: tampered, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })))).name).toBe('InvalidCiphertextException');
      // ReEncrypt between an RSA key and a symmetric key, both ways
      const symmetric = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
      const re = await t.kms.send(new ReEncryptCommand({ CiphertextBlob: enc.CiphertextBlob, SourceKeyId: meta.KeyId, SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', DestinationKeyId: symmetric }));
      expect(re.SourceEncryptionAlgorithm).toBe('RSAES_OAEP_SHA_256');
      expect(re.DestinationEncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');
      const back = await t.kms.send(new ReEncryptCommand({ CiphertextBlob: re.CiphertextBlob, DestinationKeyId: meta.KeyId, DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_1' }));
      expect(Buffer.from((await t.kms.send(new DecryptCommand({ KeyId: meta.KeyId, CiphertextBlob: back.CiphertextBlob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' }))).Plaintext!).toString()).toBe('x');
    }
  }, 120_000);

  it('HMAC keys: GenerateMac equals node:crypto HMAC, VerifyMac accepts it and refuses anything else', async () => {
    for (const [spec, alg, hash, bytes] of [['HMAC_224', 'HMAC_SHA_224', 'sha224', 28], ['HMAC_256', 'HMAC_SHA_256', 'sha256', 32], ['HMAC_384', 'HMAC_SHA_384', 'sha384', 48], ['HMAC_512', 'HMAC_SHA_512', 'sha512', 64]] as const) {
      const meta = (await t.kms.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: 'GENERATE_VERIFY_MAC' }))).KeyMetadata!;
      expect(meta.MacAlgorithms).toEqual([alg]);
      expect(meta.EncryptionAlgorithms).toBeUndefined();
      const message = Buffer.from(`webhook body for ${spec}`);
      const mac = Buffer.from((await t.kms.send(new GenerateMacCommand({ KeyId: meta.KeyId, Message: message, MacAlgorithm: alg }))).Mac!);
      expect(mac.length).toBe(bytes);
      // the material itself, read from the keyring, gives the same HMAC (and is as long as AWS's)
      const keyring = t.server.installation.keyring;
      const material = await keyring.keys.material(await keyring.tenants.require('default'), meta.KeyId!, 1);
      expect(material!.length).toBe(bytes);
      expect(createHmac(hash, material!).update(message).digest()).toEqual(mac);
      const ok = await t.kms.send(new VerifyMacCommand({ KeyId: meta.KeyId, Message: message, Mac: mac, MacAlgorithm: alg }));
      expect(ok.MacValid).toBe(true);
      const bad = Buffer.from(mac);
      bad[0]! ^= 1;
      for (const wrong of [bad, mac.subarray(0, bytes - 1), Buffer.concat([mac, Buffer.from([0])])]) {
        expect((await errorOf(t.kms.send(new VerifyMacCommand({ KeyId: meta.KeyId, Message: message, Mac: wrong, MacAlgorithm: alg })))).name).toBe('KMSInvalidMacException');
      }
      expect((await errorOf(t.kms.send(new GenerateMacCommand({ KeyId: meta.KeyId, Message: Buffer.alloc(4097), MacAlgorithm: alg })))).name).toBe('ValidationException');
      const other = alg === 'HMAC_SHA_256' ? 'HMAC_SHA_512' : 'HMAC_SHA_256';
      expect((await errorOf(t.kms.send(new GenerateMacCommand({ KeyId: meta.KeyId, Message: message, MacAlgorithm: other })))).name).toBe('InvalidKeyUsageException');
      expect((await errorOf(t.kms.send(new EncryptCommand({ KeyId: meta.KeyId, Plaintext: message })))).name).toBe('InvalidKeyUsageException');
    }
    const symmetric = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    expect((await errorOf(t.kms.send(new GenerateMacCommand({ KeyId: symmetric, Message: Buffer.from('m'), MacAlgorithm: 'HMAC_SHA_256' })))).name).toBe('InvalidKeyUsageException');
    // HMAC keys need KeyUsage GENERATE_VERIFY_MAC (AWS does not default it)
    expect((await errorOf(t.kms.send(new CreateKeyCommand({ KeySpec: 'HMAC_256' })))).name).toBe('ValidationException');
  });

  it('GenerateDataKeyPair(+WithoutPlaintext): the private key decrypts from its blob and matches the public key, for RSA and ECC', async () => {
    const symmetric = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    for (const spec of ['RSA_2048', 'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1', 'ECC_NIST_EDWARDS25519'] as const) {
      const pair = await t.kms.send(new GenerateDataKeyPairCommand({ KeyId: symmetric, KeyPairSpec: spec, EncryptionContext: { use: 'pair' } }));
      expect(pair.KeyPairSpec).toBe(spec);
      const priv = createPrivateKey({ key: Buffer.from(pair.PrivateKeyPlaintext!), format: 'der', type: 'pkcs8' });
      expect(createPublicKey(priv).export({ format: 'der', type: 'spki' })).toEqual(Buffer.from(pair.PublicKey!));
      const dec = await t.kms.send(new DecryptCommand({ CiphertextBlob: pair.PrivateKeyCiphertextBlob, EncryptionContext: { use: 'pair' } }));
      expect(Buffer.from(dec.Plaintext!)).toEqual(Buffer.from(pair.PrivateKeyPlaintext!));
      const without = await t.kms.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: symmetric, KeyPairSpec: spec }));
      expect((without as { PrivateKeyPlaintext?: unknown }).PrivateKeyPlaintext).toBeUndefined();
      const later = createPrivateKey({ key: Buffer.from((await t.kms.send(new DecryptCommand({ CiphertextBlob: without.PrivateKeyCiphertextBlob }))).Plaintext!), format: 'der', type: 'pkcs8' });
      expect(createPublicKey(later).export({ format: 'der', type: 'spki' })).toEqual(Buffer.from(without.PublicKey!));
    }
    const rsa = signingKeys.get('RSA_2048')!;
    expect((await errorOf(t.kms.send(new GenerateDataKeyPairCommand({ KeyId: rsa, KeyPairSpec: 'ECC_NIST_P256' })))).name).toBe('InvalidKeyUsageException');
    expect((await errorOf(t.kms.send(new GenerateDataKeyPairCommand({ KeyId: symmetric, KeyPairSpec: 'SM2' })))).name).toBe('UnsupportedOperationException');
  }, 60_000);

  it('DeriveSharedSecret: ECDH with a peer key made here gives the secret the peer computes', async () => {
    for (const [spec, curve] of [['ECC_NIST_P256', 'prime256v1'], ['ECC_NIST_P384', 'secp384r1'], ['ECC_NIST_P521', 'secp521r1']] as const) {
      const meta = (await t.kms.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: 'KEY_AGREEMENT' }))).KeyMetadata!;
      expect(meta.KeyAgreementAlgorithms).toEqual(['ECDH']);
      const peer = generateKeyPairSync('ec', { namedCurve: curve });
      const r = await t.kms.send(new DeriveSharedSecretCommand({ KeyId: meta.KeyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer.publicKey.export({ format: 'der', type: 'spki' }) }));
      expect(r.KeyAgreementAlgorithm).toBe('ECDH');
      expect(r.KeyOrigin).toBe('AWS_KMS');
      const theirs: KeyObject = createPublicKey({ key: await spkiOf(meta.KeyId!), format: 'der', type: 'spki' });
      expect(Buffer.from(r.SharedSecret!)).toEqual(diffieHellman({ privateKey: peer.privateKey, publicKey: theirs }));
      // a key on another curve, or not a key at all: ValidationException naming publicKey (as AWS spells members)
      const wrongCurve = generateKeyPairSync('ec', { namedCurve: curve === 'prime256v1' ? 'secp384r1' : 'prime256v1' }).publicKey.export({ format: 'der', type: 'spki' });
      for (const bad of [wrongCurve, Buffer.from('junk'), createECDH(curve === 'prime256v1' ? 'prime256v1' : curve).generateKeys()]) {
        const e = await errorOf(t.kms.send(new DeriveSharedSecretCommand({ KeyId: meta.KeyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: bad })));
        expect(e.name).toBe('ValidationException');
        expect(e.message).toContain("'publicKey'");
      }
    }
    // the curves that only sign cannot agree; signing keys cannot either
    expect((await errorOf(t.kms.send(new CreateKeyCommand({ KeySpec: 'ECC_SECG_P256K1', KeyUsage: 'KEY_AGREEMENT' })))).name).toBe('ValidationException');
    const p256 = signingKeys.get('ECC_NIST_P256')!;
    const peer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'der', type: 'spki' });
    expect((await errorOf(t.kms.send(new DeriveSharedSecretCommand({ KeyId: p256, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer })))).name).toBe('InvalidKeyUsageException');
  });

  it('asymmetric and HMAC keys do not rotate (as AWS), and disable / deletion behave as for any key', async () => {
    const keyId = (await t.kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
    const hmacKey = (await t.kms.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }))).KeyMetadata!.KeyId!;
    for (const k of [keyId, hmacKey]) {
      expect((await errorOf(t.kms.send(new EnableKeyRotationCommand({ KeyId: k })))).name).toBe('UnsupportedOperationException');
      expect((await errorOf(t.kms.send(new RotateKeyOnDemandCommand({ KeyId: k })))).name).toBe('UnsupportedOperationException');
      expect((await t.kms.send(new GetKeyRotationStatusCommand({ KeyId: k }))).KeyRotationEnabled).toBe(false);
      expect((await errorOf(t.kms.send(new ListKeyRotationsCommand({ KeyId: k })))).name).toBe('UnsupportedOperationException');
    }
    const before = await spkiOf(keyId);
    await t.kms.send(new DisableKeyCommand({ KeyId: keyId }));
    expect((await errorOf(t.kms.send(new SignCommand({ KeyId: keyId, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' })))).name).toBe('DisabledException');
    expect((await errorOf(t.kms.send(new GetPublicKeyCommand({ KeyId: keyId })))).name).toBe('DisabledException');
    await t.kms.send(new EnableKeyCommand({ KeyId: keyId }));
    expect(await spkiOf(keyId)).toEqual(before);
    await t.kms.send(new ScheduleKeyDeletionCommand({ KeyId: hmacKey, PendingWindowInDays: 7 }));
    expect((await errorOf(t.kms.send(new GenerateMacCommand({ KeyId: hmacKey, Message: Buffer.from('m'), MacAlgorithm: 'HMAC_SHA_256' })))).name).toBe('KMSInvalidStateException');
  });

  it('a refused request changes nothing stored', async () => {
    const keyId = signingKeys.get('ECC_SECG_P256K1')!;
    const { store } = t.server.installation;
    const snapshot = async () => JSON.stringify((await store.list(`keys/default/${keyId}`)).entries.map((e) => [e.key, e.version]))
      + JSON.stringify((await store.list(`material/default/${keyId}/`)).entries.map((e) => [e.key, e.version]));
    const before = await snapshot();
    await errorOf(t.kms.send(new EnableKeyRotationCommand({ KeyId: keyId })));
    await errorOf(t.kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId })));
    await errorOf(t.kms.send(new SignCommand({ KeyId: keyId, Message: Buffer.alloc(5000), SigningAlgorithm: 'ECDSA_SHA_256' })));
    await errorOf(t.kms.send(new VerifyCommand({ KeyId: keyId, Message: Buffer.from('m'), Signature: Buffer.from('x'), SigningAlgorithm: 'ECDSA_SHA_256' })));
    expect(await snapshot()).toBe(before);
  });
});
