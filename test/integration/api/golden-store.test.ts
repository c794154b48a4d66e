import { CreateAliasCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, RotateKeyOnDemandCommand } from '@aws-sdk/client-kms';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startTestServer, tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';

/**
 * A data directory written by release 0.1.0 (test/vectors/store-0.1.0/): every later release must
 * open it, unseal it with the same passphrase and decrypt what it encrypted back then.
 * Regenerate only to add a new release's store beside it, never to replace it.
 */
const GOLDEN = new URL('../../vectors/store-0.1.0/', import.meta.url).pathname;

describe('golden store of release 0.1.0', () => {
  it('opens, unseals and decrypts what 0.1.0 encrypted', async () => {
    if (process.env.KEYWARD_WRITE_VECTORS === '1' && !existsSync(join(GOLDEN, 'keyward.db'))) {
      const dir = tempDir();
      const t = await startTestServer({ dataDir: dir });
      const key = (await t.kms.send(new CreateKeyCommand({ Description: 'golden' }))).KeyMetadata!;
      await t.kms.send(new CreateAliasCommand({ AliasName: 'alias/golden', TargetKeyId: key.KeyId }));
      const v1 = (await t.kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('golden v1'), EncryptionContext: { release: '0.1.0' } }))).CiphertextBlob!;
      await t.kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId }));
      const v2 = (await t.kms.send(new EncryptCommand({ KeyId: 'alias/golden', Plaintext: Buffer.from('golden v2') }))).CiphertextBlob!;
      await t.close();
      mkdirSync(GOLDEN, { recursive: true });
      copyFileSync(join(dir, 'keyward.db'), join(GOLDEN, 'keyward.db'));
      writeFileSync(join(GOLDEN, 'expect.json'), `${JSON.stringify({
        passphrase: TEST_PASSPHRASE, admin: t.admin, keyId: key.KeyId,
        blobs: [{ blob: Buffer.from(v1).toString('base64'), context: { release: '0.1.0' }, plaintext: 'golden v1' }, { blob: Buffer.from(v2).toString('base64'), context: {}, plaintext: 'golden v2' }],
      }, null, 2)}\n`);
      rmSync(dir, { recursive: true, force: true });
    }
    const expected = JSON.parse(readFileSync(join(GOLDEN, 'expect.json'), 'utf8')) as {
      passphrase: string; admin: { accessKeyId: string; secretAccessKey: string; token: string }; keyId: string;
      blobs: Array<{ blob: string; context: Record<string, string>; plaintext: string }>;
    };
    const dir = tempDir();
    copyFileSync(join(GOLDEN, 'keyward.db'), join(dir, 'keyward.db'));
    const t = await startTestServer({ dataDir: dir, init: false, admin: expected.admin });
    try {
      const res = await fetch(`${t.url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: expected.passphrase }) });
      expect(res.status).toBe(200);
      expect((await t.kms.send(new DescribeKeyCommand({ KeyId: 'alias/golden' }))).KeyMetadata!.KeyId).toBe(expected.keyId);
      for (const b of expected.blobs) {
        const r = await t.kms.send(new DecryptCommand({ CiphertextBlob: Buffer.from(b.blob, 'base64'), EncryptionContext: b.context }));
        expect(Buffer.from(r.Plaintext!).toString()).toBe(b.plaintext);
      }
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
