import {
  CreateAliasCommand, CreateKeyCommand, DecryptCommand, DeleteImportedKeyMaterialCommand, DescribeKeyCommand, EnableKeyCommand,
  EncryptCommand, GenerateMacCommand, GetParametersForImportCommand, GetPublicKeyCommand, ImportKeyMaterialCommand,
  RotateKeyOnDemandCommand, SignCommand, type AlgorithmSpec, type KeySpec, type KeyUsageType,
} from '@aws-sdk/client-kms';
import { execFileSync } from 'node:child_process';
import { createHmac, createPublicKey, generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf } from '../../helpers/errors.js';
import { wrapLocally } from '../../helpers/key-import.js';
import { startTestServer, tempDir, type TestServer } from '../../helpers/server.js';
import { requireTool } from '../../helpers/services.js';

/** BYOK as an AWS KMS user does it: GetParametersForImport, wrap locally, ImportKeyMaterial. */

const haveOpenssl = requireTool('/usr/bin/openssl', 'openssl');

describe('key import (BYOK) over the AWS protocol', () => {
  let t: TestServer;
  let dir: string;
  beforeAll(async () => {
    t = await startTestServer();
    dir = tempDir('keyward-import-');
  });
  afterAll(async () => {
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const external = async (spec: KeySpec = 'SYMMETRIC_DEFAULT', usage: KeyUsageType = 'ENCRYPT_DECRYPT') =>
    (await t.kms.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: usage, Origin: 'EXTERNAL' }))).KeyMetadata!;
  const params = (keyId: string, algorithm: AlgorithmSpec = 'RSAES_OAEP_SHA_256') =>
    t.kms.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: algorithm, WrappingKeySpec: 'RSA_2048' }));
  async function importInto(keyId: string, material: Buffer, algorithm: AlgorithmSpec = 'RSAES_OAEP_SHA_256', validTo?: Date) {
    const p = await params(keyId, algorithm);
    return t.kms.send(new ImportKeyMaterialCommand({
      KeyId: keyId, ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapLocally(p.PublicKey!, algorithm, material),
      ...(validTo ? { ValidTo: validTo, ExpirationModel: 'KEY_MATERIAL_EXPIRES' as const } : { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' as const }),
    }));
  }
  const describeKey = async (keyId: string) => (await t.kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
  const materialRecords = async (keyId: string) => (await t.server.installation.store.list(`material/default/${keyId}/`)).entries.length;

  it('symmetric: PendingImport until imported; the material expires at ValidTo, comes back only as the same bytes, and can be deleted', async () => {
    const meta = await external();
    expect(meta.KeyState).toBe('PendingImport');
    expect(meta.Origin).toBe('EXTERNAL');
    expect(meta.Enabled).toBe(false);
    expect((await errorOf(t.kms.send(new EncryptCommand({ KeyId: meta.KeyId, Plaintext: Buffer.from('x') })))).name).toBe('KMSInvalidStateException');
    expect((await errorOf(t.kms.send(new EnableKeyCommand({ KeyId: meta.KeyId })))).name).toBe('KMSInvalidStateException');
    expect(await materialRecords(meta.KeyId!)).toBe(0);

    const material = randomBytes(32);
    const p = await params(meta.KeyId!);
    expect(p.KeyId).toBe(meta.Arn);
    expect(p.ParametersValidTo!.getTime() - Date.now()).toBeGreaterThan(23.9 * 3600_000);
    expect(createPublicKey({ key: Buffer.from(p.PublicKey!), format: 'der', type: 'spki' }).asymmetricKeyDetails?.modulusLength).toBe(2048);
    const validTo = new Date(Date.now() + 2 * 86_400_000);
    const imported = await t.kms.send(new ImportKeyMaterialCommand({ KeyId: meta.KeyId, ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapLocally(p.PublicKey!, 'RSAES_OAEP_SHA_256', material), ValidTo: validTo }));
    expect(imported.KeyId).toBe(meta.Arn);
    expect(imported.KeyMaterialId).toMatch(/^[0-9a-f]{64}$/);
    const after = await describeKey(meta.KeyId!);
    expect(after.KeyState).toBe('Enabled');
    expect(after.ExpirationModel).toBe('KEY_MATERIAL_EXPIRES');
    expect(Math.abs(after.ValidTo!.getTime() - validTo.getTime())).toBeLessThan(1000);
    expect(after.CurrentKeyMaterialId).toBe(imported.KeyMaterialId);
    // the key encrypts with exactly the imported bytes
    const keyring = t.server.installation.keyring;
    expect(await keyring.keys.material(await keyring.tenants.require('default'), meta.KeyId!, 1)).toEqual(material);
    const blob = (await t.kms.send(new EncryptCommand({ KeyId: meta.KeyId, Plaintext: Buffer.from('byok') }))).CiphertextBlob!;
    // imported material does not rotate (Keyward does not rotate imported material)
    expect((await errorOf(t.kms.send(new RotateKeyOnDemandCommand({ KeyId: meta.KeyId })))).name).toBe('UnsupportedOperationException');

    // past ValidTo the scheduler deletes the material: PendingImport, the material gone from the store
    t.advanceDays(3);
    expect((await keyring.scheduler.tick()).expired).toBe(1);
    expect((await describeKey(meta.KeyId!)).KeyState).toBe('PendingImport');
    expect(await materialRecords(meta.KeyId!)).toBe(0);
    expect((await errorOf(t.kms.send(new DecryptCommand({ CiphertextBlob: blob })))).name).toBe('KMSInvalidStateException');

    // other material is refused; the same material comes back and the old ciphertext decrypts again
    const other = await errorOf(importInto(meta.KeyId!, randomBytes(32)));
    expect(other.name).toBe('IncorrectKeyMaterialException');
    expect((await describeKey(meta.KeyId!)).KeyState).toBe('PendingImport');
    const again = await importInto(meta.KeyId!, material, 'RSA_AES_KEY_WRAP_SHA_256');
    expect(again.KeyMaterialId).toBe(imported.KeyMaterialId);
    const reimported = await describeKey(meta.KeyId!);
    expect(reimported.ExpirationModel).toBe('KEY_MATERIAL_DOES_NOT_EXPIRE');
    expect(reimported.ValidTo).toBeUndefined();
    expect(Buffer.from((await t.kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe('byok');

    // DeleteImportedKeyMaterial: at once, and only this key's material id is accepted
    expect((await errorOf(t.kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: meta.KeyId, KeyMaterialId: 'f'.repeat(64) })))).name).toBe('NotFoundException');
    const deleted = await t.kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: meta.KeyId }));
    expect(deleted.KeyMaterialId).toBe(imported.KeyMaterialId);
    expect((await describeKey(meta.KeyId!)).KeyState).toBe('PendingImport');
    expect(await materialRecords(meta.KeyId!)).toBe(0);
    expect((await errorOf(t.kms.send(new DecryptCommand({ CiphertextBlob: blob })))).name).toBe('KMSInvalidStateException');
  });

  it('HMAC: imported material MACs as node:crypto does with the same key; sizes outside AWS limits are refused', async () => {
    const meta = await external('HMAC_256', 'GENERATE_VERIFY_MAC');
    expect((await errorOf(importInto(meta.KeyId!, randomBytes(20)))).name).toBe('IncorrectKeyMaterialException');
    expect((await errorOf(importInto(meta.KeyId!, randomBytes(65)))).name).toBe('IncorrectKeyMaterialException');
    const material = randomBytes(40);
    await importInto(meta.KeyId!, material);
    const mac = await t.kms.send(new GenerateMacCommand({ KeyId: meta.KeyId, Message: Buffer.from('webhook'), MacAlgorithm: 'HMAC_SHA_256' }));
    expect(Buffer.from(mac.Mac!)).toEqual(createHmac('sha256', material).update('webhook').digest());
  });

  it.runIf(haveOpenssl)('ECC P-256 wrapped with openssl (RSA_AES_KEY_WRAP_SHA_256, as AWS documents): GetPublicKey and Sign use the imported key', async () => {
    const meta = await external('ECC_NIST_P256', 'SIGN_VERIFY');
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const p = await params(meta.KeyId!, 'RSA_AES_KEY_WRAP_SHA_256');
    const f = (name: string) => join(dir, name);
    writeFileSync(f('material.der'), pair.privateKey.export({ format: 'der', type: 'pkcs8' }));
    writeFileSync(f('wrapping.der'), Buffer.from(p.PublicKey!));
    const aesKey = randomBytes(32);
    writeFileSync(f('aes.bin'), aesKey);
    execFileSync('openssl', ['enc', '-id-aes256-wrap-pad', '-K', aesKey.toString('hex'), '-iv', 'A65959A6', '-in', f('material.der'), '-out', f('material.wrapped')]);
    execFileSync('openssl', ['pkeyutl', '-encrypt', '-in', f('aes.bin'), '-out', f('aes.wrapped'), '-inkey', f('wrapping.der'), '-keyform', 'DER', '-pubin',
      '-pkeyopt', 'rsa_padding_mode:oaep', '-pkeyopt', 'rsa_oaep_md:sha256', '-pkeyopt', 'rsa_mgf1_md:sha256']);
    const encrypted = Buffer.concat([readFileSync(f('aes.wrapped')), readFileSync(f('material.wrapped'))]);
    await t.kms.send(new ImportKeyMaterialCommand({ KeyId: meta.KeyId, ImportToken: p.ImportToken, EncryptedKeyMaterial: encrypted, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }));
    const pub = Buffer.from((await t.kms.send(new GetPublicKeyCommand({ KeyId: meta.KeyId }))).PublicKey!);
    expect(pub).toEqual(pair.publicKey.export({ format: 'der', type: 'spki' }));
    const sig = (await t.kms.send(new SignCommand({ KeyId: meta.KeyId, Message: Buffer.from('imported'), SigningAlgorithm: 'ECDSA_SHA_256' }))).Signature!;
    expect(verify('sha256', Buffer.from('imported'), { key: pair.publicKey, dsaEncoding: 'der' }, sig)).toBe(true);
  });

  it('RSA, Ed25519 and ML-DSA private keys: RSA only through RSA_AES_KEY_WRAP; material of the wrong type or curve is IncorrectKeyMaterialException', async () => {
    const rsa = await external('RSA_2048', 'SIGN_VERIFY');
    expect((await errorOf(params(rsa.KeyId!, 'RSAES_OAEP_SHA_256'))).name).toBe('ValidationException');
    const wrongSize = generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey.export({ format: 'der', type: 'pkcs8' });
    expect((await errorOf(importInto(rsa.KeyId!, wrongSize, 'RSA_AES_KEY_WRAP_SHA_1'))).name).toBe('IncorrectKeyMaterialException');
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await importInto(rsa.KeyId!, pair.privateKey.export({ format: 'der', type: 'pkcs8' }), 'RSA_AES_KEY_WRAP_SHA_1');
    const sig = (await t.kms.send(new SignCommand({ KeyId: rsa.KeyId, Message: Buffer.from('rsa'), SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' }))).Signature!;
    expect(verify('sha256', Buffer.from('rsa'), pair.publicKey, sig)).toBe(true);

    const ed = await external('ECC_NIST_EDWARDS25519', 'SIGN_VERIFY');
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey.export({ format: 'der', type: 'pkcs8' });
    for (const bad of [p384, randomBytes(48), Buffer.from('not a key')]) {
      expect((await errorOf(importInto(ed.KeyId!, bad, 'RSAES_OAEP_SHA_1'))).name).toBe('IncorrectKeyMaterialException');
    }
    const edPair = generateKeyPairSync('ed25519');
    await importInto(ed.KeyId!, edPair.privateKey.export({ format: 'der', type: 'pkcs8' }), 'RSAES_OAEP_SHA_1');
    const edSig = (await t.kms.send(new SignCommand({ KeyId: ed.KeyId, Message: Buffer.from('solana'), SigningAlgorithm: 'ED25519_SHA_512' }))).Signature!;
    expect(verify(null, Buffer.from('solana'), edPair.publicKey as KeyObject, edSig)).toBe(true);

    // ML-DSA: the PKCS#8 seed form (RFC 9881); the public key is the one the seed expands to
    const seed = randomBytes(32);
    const pkcs8 = Buffer.concat([Buffer.from('3034020100300b0609608648016503040311042280' + '20', 'hex'), seed]);
    const mldsa = await external('ML_DSA_44', 'SIGN_VERIFY');
    expect((await errorOf(importInto(mldsa.KeyId!, pkcs8.subarray(0, 40), 'RSAES_OAEP_SHA_256'))).name).toBe('IncorrectKeyMaterialException');
    await importInto(mldsa.KeyId!, pkcs8, 'RSAES_OAEP_SHA_256');
    const { ml_dsa44 } = await import('@noble/post-quantum/ml-dsa.js');
    const expected = ml_dsa44.keygen(seed).publicKey;
    const spki = Buffer.from((await t.kms.send(new GetPublicKeyCommand({ KeyId: mldsa.KeyId }))).PublicKey!);
    expect(spki.subarray(spki.length - expected.length)).toEqual(Buffer.from(expected));
    const pqSig = (await t.kms.send(new SignCommand({ KeyId: mldsa.KeyId, Message: Buffer.from('pq'), SigningAlgorithm: 'ML_DSA_SHAKE_256' }))).Signature!;
    expect(ml_dsa44.verify(pqSig, Buffer.from('pq'), expected)).toBe(true);
  });

  it('import tokens: bound to their key, refused when malformed or expired (24 h); bad wrapping and bad ValidTo; nothing stored changes', async () => {
    const a = await external();
    const b = await external();
    const material = randomBytes(32);
    const p = await params(a.KeyId!);
    const wrapped = wrapLocally(p.PublicKey!, 'RSAES_OAEP_SHA_256', material);
    const send = (input: Partial<ConstructorParameters<typeof ImportKeyMaterialCommand>[0]>) => errorOf(t.kms.send(new ImportKeyMaterialCommand({
      KeyId: a.KeyId, ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ...input,
    } as ConstructorParameters<typeof ImportKeyMaterialCommand>[0])));
    expect((await send({ KeyId: b.KeyId })).name).toBe('InvalidImportTokenException');
    expect((await send({ ImportToken: Buffer.from('garbage') })).name).toBe('InvalidImportTokenException');
    const forged = Buffer.from(p.ImportToken!);
    forged[forged.length - 1]! ^= 1;
    expect((await send({ ImportToken: forged })).name).toBe('InvalidImportTokenException');
    expect((await send({ EncryptedKeyMaterial: randomBytes(256) })).name).toBe('InvalidCiphertextException');
    expect((await send({ EncryptedKeyMaterial: wrapLocally(p.PublicKey!, 'RSAES_OAEP_SHA_1', material) })).name).toBe('InvalidCiphertextException');
    expect((await send({ ExpirationModel: 'KEY_MATERIAL_EXPIRES' })).name).toBe('ValidationException');
    // the server's clock (moved by the tests above) decides what is past and what is too far
    const serverNow = Date.now() + (t.kms.config.systemClockOffset ?? 0);
    expect((await send({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: new Date(serverNow - 1000) })).name).toBe('ValidationException');
    expect((await send({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: new Date(serverNow + 366 * 86_400_000) })).name).toBe('ValidationException');
    expect((await send({ ValidTo: new Date(serverNow + 86_400_000) })).name).toBe('ValidationException');
    expect((await send({ EncryptedKeyMaterial: wrapLocally(p.PublicKey!, 'RSAES_OAEP_SHA_256', randomBytes(16)) })).name).toBe('IncorrectKeyMaterialException');
    // key id or ARN only, as AWS: an alias names no import target
    await t.kms.send(new CreateAliasCommand({ AliasName: 'alias/byok', TargetKeyId: a.KeyId }));
    expect((await send({ KeyId: 'alias/byok' })).name).toBe('ValidationException');
    // a key Keyward made takes no imported material
    const own = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    expect((await errorOf(params(own))).name).toBe('UnsupportedOperationException');
    // every refusal left the key as it was
    expect((await describeKey(a.KeyId!)).KeyState).toBe('PendingImport');
    expect(await materialRecords(a.KeyId!)).toBe(0);
    // outstanding tokens per key are bounded
    for (let i = 0; i < 9; i++) await params(b.KeyId!, 'RSAES_OAEP_SHA_1');
    expect((await t.server.installation.store.list(`imports/default/${b.KeyId}/`)).entries.length).toBeLessThanOrEqual(8);
    // 24 hours later the token has expired
    t.advanceDays(1.01);
    expect((await send({})).name).toBe('ExpiredImportTokenException');
    const fresh = await importInto(a.KeyId!, material);
    expect(fresh.KeyId).toBe(a.Arn);
  }, 60_000);
});
