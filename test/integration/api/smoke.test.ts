import { CreateKeyCommand, DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/server.js';

describe('smoke', () => {
  let t: TestServer;
  beforeAll(async () => { t = await startTestServer(); });
  afterAll(async () => { await t?.close(); });

  it('creates a key, encrypts and decrypts through the AWS SDK', async () => {
    const created = await t.kms.send(new CreateKeyCommand({ Description: 'smoke' }));
    const keyId = created.KeyMetadata?.KeyId ?? '';
    expect(keyId).toMatch(/^[0-9a-f-]{36}$/);
    const enc = await t.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('hello') }));
    const dec = await t.kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
    expect(Buffer.from(dec.Plaintext ?? []).toString()).toBe('hello');
    expect(dec.KeyId).toBe(created.KeyMetadata?.Arn);
  });
});
