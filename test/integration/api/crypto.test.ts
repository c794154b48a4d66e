import {
  CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateDataKeyCommand, GenerateDataKeyWithoutPlaintextCommand,
  GenerateRandomCommand, ReEncryptCommand, RotateKeyOnDemandCommand,
} from '@aws-sdk/client-kms';
import { createDecipheriv } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf } from '../../helpers/errors.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

describe('cryptographic operations over the AWS protocol', () => {
  let t: TestServer;
  let keyId: string;
  let arn: string;
  beforeAll(async () => {
    t = await startTestServer();
    const k = await t.kms.send(new CreateKeyCommand({}));
    keyId = k.KeyMetadata!.KeyId!;
    arn = k.KeyMetadata!.Arn!;
  });
  afterAll(async () => { await t?.close(); });

  it('Encrypt/Decrypt round-trips 1 to 4096 bytes and names the key ARN', async () => {
    for (const size of [1, 32, 4096]) {
      const plaintext = Buffer.alloc(size, size % 251);
      const enc = await t.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext }));
      expect(enc.KeyId).toBe(arn);
      expect(enc.EncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');
      if (size >= 32) expect(Buffer.from(enc.CiphertextBlob!).includes(plaintext)).toBe(false);
      const dec = await t.kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
      expect(Buffer.from(dec.Plaintext!)).toEqual(plaintext);
      expect(dec.KeyId).toBe(arn);
    }
  });

  it('Encrypt refuses more than 4096 bytes and empty plaintexts with ValidationException', async () => {
    expect((await errorOf(t.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.alloc(4097) })))).name).toBe('ValidationException');
    expect((await errorOf(t.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.alloc(0) })))).name).toBe('ValidationException');
  });

  it('two encryptions of the same plaintext differ (fresh salt and nonce)', async () => {
    const a = await t.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('same') }));
    const b = await t.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('same') }));
    expect(Buffer.from(a.CiphertextBlob!).equals(Buffer.from(b.CiphertextBlob!))).toBe(false);
  });

  it('the encryption context must match exactly, in any key order', async () => {
    const ctx = { tenant: 'acme', purpose: 'invoices' };
    const enc = await t.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('bound'), EncryptionContext: ctx }));
    const reordered = { purpose: 'invoices', tenant: 'acme' };
    expect(Buffer.from((await t.kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: reordered }))).Plaintext!).toString()).toBe('bound');
    for (const wrong of [undefined, {}, { tenant: 'acme' }, { ...ctx, extra: '1' }, { tenant: 'acme', purpose: 'Invoices' }]) {
      const e = await errorOf(t.kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, ...(wrong ? { EncryptionContext: wrong } : {}) })));
      expect(e.name).toBe('InvalidCiphertextException');
    }
  });

  it('a tampered blob, a wrong context and a destroyed version are one indistinguishable error', async () => {
    const k = await t.kms.send(new CreateKeyCommand({}));
    const id = k.KeyMetadata!.KeyId!;
    const old = await t.kms.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('v1'), EncryptionContext: { a: 'b' } }));
    await t.kms.send(new RotateKeyOnDemandCommand({ KeyId: id }));
    const tampered = Buffer.from(old.CiphertextBlob!);
    tampered[tampered.length - 1]! ^= 1;
    const tamperedError = await errorOf(t.kms.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: { a: 'b' } })));
    const contextError = await errorOf(t.kms.send(new DecryptCommand({ CiphertextBlob: old.CiphertextBlob, EncryptionContext: { a: 'c' } })));
    await t.server.installation.keyring.keys.setVersionState(await t.server.installation.keyring.tenants.require('default'), id, 1, 'Destroyed');
    const destroyedError = await errorOf(t.kms.send(new DecryptCommand({ CiphertextBlob: old.CiphertextBlob, EncryptionContext: { a: 'b' } })));
    const shapes = [tamperedError, contextError, destroyedError].map((e) => ({ name: e.name, message: e.message, status: e.$metadata.httpStatusCode }));
    expect(shapes[0]!.name).toBe('InvalidCiphertextException');
    expect(shapes[1]).toEqual(shapes[0]);
    expect(shapes[2]).toEqual(shapes[0]);
  });

  it('every single-byte corruption anywhere in a blob is InvalidCiphertextException', async () => {
    const enc = Buffer.from((await t.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('abc') }))).CiphertextBlob!);
    for (let i = 0; i < enc.length; i++) {
      const bad = Buffer.from(enc);
      bad[i]! ^= 0x80;
      const e = await errorOf(t.kms.send(new DecryptCommand({ CiphertextBlob: bad })));
      expect(e.name, `byte ${i}`).toBe('InvalidCiphertextException');
    }
    for (const bad of [enc.subarray(0, enc.length - 1), Buffer.concat([enc, Buffer.from([0])]), Buffer.from([1]), Buffer.from('not a blob at all')]) {
      expect((await errorOf(t.kms.send(new DecryptCommand({ CiphertextBlob: bad })))).name).toBe('InvalidCiphertextException');
    }
  });

  it('Decrypt with a KeyId: the right one works, another key is IncorrectKeyException', async () => {
    const enc = await t.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('k') }));
    expect((await t.kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, KeyId: arn }))).KeyId).toBe(arn);
    const other = await t.kms.send(new CreateKeyCommand({}));
    expect((await errorOf(t.kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, KeyId: other.KeyMetadata!.KeyId })))).name).toBe('IncorrectKeyException');
  });

  it('GenerateDataKey returns a usable key and its encrypted copy; KeySpec or NumberOfBytes, not both', async () => {
    const r = await t.kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: { f: 'g' } }));
    expect(r.Plaintext!.length).toBe(32);
    expect(r.KeyId).toBe(arn);
    const back = await t.kms.send(new DecryptCommand({ CiphertextBlob: r.CiphertextBlob, EncryptionContext: { f: 'g' } }));
    expect(Buffer.from(back.Plaintext!)).toEqual(Buffer.from(r.Plaintext!));
    expect((await t.kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_128' }))).Plaintext!.length).toBe(16);
    expect((await t.kms.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 64 }))).Plaintext!.length).toBe(64);
    expect((await errorOf(t.kms.send(new GenerateDataKeyCommand({ KeyId: keyId })))).name).toBe('ValidationException');
    expect((await errorOf(t.kms.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 32, KeySpec: 'AES_256' })))).name).toBe('ValidationException');
    expect((await errorOf(t.kms.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 1025 })))).name).toBe('ValidationException');
  });

  it('GenerateDataKeyWithoutPlaintext returns only the encrypted copy, which decrypts to 32 bytes', async () => {
    const r = await t.kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: keyId, KeySpec: 'AES_256' }));
    expect((r as { Plaintext?: unknown }).Plaintext).toBeUndefined();
    expect((await t.kms.send(new DecryptCommand({ CiphertextBlob: r.CiphertextBlob }))).Plaintext!.length).toBe(32);
  });

  it('a data key encrypts data locally (envelope encryption)', async () => {
    const { createCipheriv, randomBytes } = await import('node:crypto');
    const dk = await t.kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }));
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', dk.Plaintext!, iv);
    const body = Buffer.concat([c.update('bulk data'), c.final()]);
    const tag = c.getAuthTag();
    const key = (await t.kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob }))).Plaintext!;
    const d = createDecipheriv('aes-256-gcm', key, iv);
    d.setAuthTag(tag);
    expect(Buffer.concat([d.update(body), d.final()]).toString()).toBe('bulk data');
  });

  it('GenerateRandom returns 1-1024 random bytes', async () => {
    const a = await t.kms.send(new GenerateRandomCommand({ NumberOfBytes: 32 }));
    const b = await t.kms.send(new GenerateRandomCommand({ NumberOfBytes: 32 }));
    expect(a.Plaintext!.length).toBe(32);
    expect(Buffer.from(a.Plaintext!).equals(Buffer.from(b.Plaintext!))).toBe(false);
    expect((await errorOf(t.kms.send(new GenerateRandomCommand({ NumberOfBytes: 0 })))).name).toBe('ValidationException');
    expect((await errorOf(t.kms.send(new GenerateRandomCommand({ NumberOfBytes: 1025 })))).name).toBe('ValidationException');
  });

  it('ReEncrypt moves a ciphertext to another key and context without exposing it', async () => {
    const dest = await t.kms.send(new CreateKeyCommand({}));
    const enc = await t.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('move me'), EncryptionContext: { s: '1' } }));
    const r = await t.kms.send(new ReEncryptCommand({
      CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: { s: '1' },
      DestinationKeyId: dest.KeyMetadata!.KeyId, DestinationEncryptionContext: { d: '2' },
    }));
    expect(r.SourceKeyId).toBe(arn);
    expect(r.KeyId).toBe(dest.KeyMetadata!.Arn);
    const dec = await t.kms.send(new DecryptCommand({ CiphertextBlob: r.CiphertextBlob, EncryptionContext: { d: '2' } }));
    expect(Buffer.from(dec.Plaintext!).toString()).toBe('move me');
    expect(dec.KeyId).toBe(dest.KeyMetadata!.Arn);
    expect((await errorOf(t.kms.send(new ReEncryptCommand({ CiphertextBlob: enc.CiphertextBlob, DestinationKeyId: keyId })))).name).toBe('InvalidCiphertextException');
  });

  it('DryRun answers DryRunOperationException and does nothing', async () => {
    const e = await errorOf(t.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x'), DryRun: true })));
    expect(e.name).toBe('DryRunOperationException');
    expect(e.$metadata.httpStatusCode).toBe(412);
  });
});
