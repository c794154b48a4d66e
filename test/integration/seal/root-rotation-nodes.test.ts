import { CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sysCall } from '../../helpers/seal.js';
import { eventually } from '../../helpers/wait.js';
import { startTestServer, tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';

const SUCCESSOR = 'core/root-successor';

function hasRow(dataDir: string, key: string): boolean {
  const db = new Database(join(dataDir, 'keyward.db'), { readonly: true });
  try {
    return db.prepare('SELECT 1 FROM kv WHERE key = ?').get(key) !== undefined;
  } finally {
    db.close();
  }
}


const decryptText = async (kms: KMSClient, blob: Uint8Array) =>
  Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString();

describe('root-key rotation with two nodes on one store', () => {
  it('the other node follows the new root key at once, the successor record is deleted after the grace, and both unseal again', async () => {
    const dataDir = tempDir();
    const graceMs = 1500;
    const config = { rootRotationGraceMs: graceMs, unsealRatePerMinute: 0 };
    const a = await startTestServer({ dataDir, config });
    let b = await startTestServer({ dataDir, admin: a.admin, config });
    try {
      expect((await sysCall(b.url, 'POST', 'unseal', { passphrase: TEST_PASSPHRASE })).body.sealed).toBe(false);
      const key = (await a.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
      const before = (await b.kms.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('before the rotation') }))).CiphertextBlob!;

      const rotated = await sysCall(a.url, 'POST', 'rotate-root', { passphrase: TEST_PASSPHRASE }, a.admin.token);
      expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
      expect(hasRow(dataDir, SUCCESSOR)).toBe(true);

      // a barrier rotation right after: b can learn the new term only from the keyring record,
      // now sealed under the new root key, so b must have followed the root rotation
      const barrier = await sysCall(a.url, 'POST', 'rotate-barrier', {}, a.admin.token);
      expect(barrier.status, JSON.stringify(barrier.body)).toBe(200);
      const onA = (await a.kms.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('under the new term') }))).CiphertextBlob!;
      // node b reads a record written under the new barrier term within 5 s
      expect(await eventually(async () => (await decryptText(b.kms, onA).catch(() => '')) === 'under the new term', 5000)).toBe(true);

      // b keeps serving: new keys made on a, old data
      const after = (await a.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
      expect(await eventually(() => b.kms.send(new DescribeKeyCommand({ KeyId: after })).then(() => true, () => false), 5000)).toBe(true);
      const blob = (await b.kms.send(new EncryptCommand({ KeyId: after, Plaintext: Buffer.from('after the rotation') }))).CiphertextBlob!;
      expect(await decryptText(a.kms, blob)).toBe('after the rotation');
      expect(await decryptText(b.kms, before)).toBe('before the rotation');
      expect((await sysCall(b.url, 'GET', 'seal-status')).body.sealed).toBe(false);

      // the old root key leads to the new one only during the grace period
      expect(await eventually(() => !hasRow(dataDir, SUCCESSOR), graceMs + 10_000)).toBe(true);

      // b restarts and unseals from the seal record, which now wraps the new root key
      await b.close();
      b = await startTestServer({ dataDir, admin: a.admin, config });
      expect((await sysCall(b.url, 'POST', 'unseal', { passphrase: TEST_PASSPHRASE })).body.sealed).toBe(false);
      expect(await decryptText(b.kms, before)).toBe('before the rotation');
      expect(await decryptText(b.kms, blob)).toBe('after the rotation');
      expect(await decryptText(b.kms, onA)).toBe('under the new term');
    } finally {
      await b.close();
      await a.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
