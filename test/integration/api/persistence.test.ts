import { CreateAliasCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateDataKeyCommand, ListAliasesCommand, RotateKeyOnDemandCommand } from '@aws-sdk/client-kms';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { errorOf } from '../../helpers/errors.js';
import { startTestServer, tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';

describe('persistence on the embedded SQLite store', () => {
  const dataDir = tempDir();
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('a restart keeps every key; a ciphertext made before a rotation and a restart still decrypts', async () => {
    const first = await startTestServer({ dataDir });
    const key = (await first.kms.send(new CreateKeyCommand({ Description: 'durable' }))).KeyMetadata!;
    await first.kms.send(new CreateAliasCommand({ AliasName: 'alias/durable', TargetKeyId: key.KeyId }));
    const before = (await first.kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('made before rotation'), EncryptionContext: { k: 'v' } }))).CiphertextBlob!;
    await first.kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId }));
    const after = (await first.kms.send(new EncryptCommand({ KeyId: 'alias/durable', Plaintext: Buffer.from('made after rotation') }))).CiphertextBlob!;
    await first.close();

    // a restart comes up sealed; the same passphrase unseals it
    const second = await startTestServer({ dataDir, init: false, admin: first.admin });
    try {
      expect((await errorOf(second.kms.send(new DescribeKeyCommand({ KeyId: key.KeyId })))).name).toBe('SealedException');
      const res = await fetch(`${second.url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: TEST_PASSPHRASE }) });
      expect(res.status).toBe(200);
      expect((await second.kms.send(new DescribeKeyCommand({ KeyId: 'alias/durable' }))).KeyMetadata).toMatchObject({ KeyId: key.KeyId, Description: 'durable' });
      expect(Buffer.from((await second.kms.send(new DecryptCommand({ CiphertextBlob: before, EncryptionContext: { k: 'v' } }))).Plaintext!).toString()).toBe('made before rotation');
      expect(Buffer.from((await second.kms.send(new DecryptCommand({ CiphertextBlob: after }))).Plaintext!).toString()).toBe('made after rotation');
      expect((await second.kms.send(new ListAliasesCommand({}))).Aliases!.map((a) => a.AliasName)).toEqual(['alias/durable']);
    } finally {
      await second.close();
    }
  });

  it('no plaintext key material, data key, secret or plaintext reaches the SQLite files', async () => {
    const dir = tempDir();
    const t = await startTestServer({ dataDir: dir });
    const needles: Buffer[] = [];
    const keys: string[] = [];
    try {
      for (let i = 0; i < 5; i++) keys.push((await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!);
      for (const keyId of keys) {
        await t.kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
        const dk = await t.kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }));
        needles.push(Buffer.from(dk.Plaintext!));
        const pt = Buffer.from(`a plaintext that must not be stored ${keyId}`);
        needles.push(pt);
        await t.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: pt }));
      }
      // the key versions' material, straight from the keyring's cache
      const { keyring } = t.server.installation;
      const tenant = await keyring.tenants.require('default');
      for (const keyId of keys) {
        for (const v of [1, 2]) needles.push(Buffer.from((await keyring.keys.material(tenant, keyId, v))!));
      }
      needles.push(Buffer.from(keyring.barrier.tenantDerivationKey()), Buffer.from(keyring.barrier.auditKey()));
      needles.push(Buffer.from(t.admin.secretAccessKey), Buffer.from(t.admin.token.split('.')[2]!), Buffer.from(TEST_PASSPHRASE));
    } finally {
      await t.close();
    }
    const files = readdirSync(dir).filter((f) => f.startsWith('keyward.db'));
    expect(files).toContain('keyward.db');
    let scanned = 0;
    // positive control: the scan does see what is stored in the clear (record paths name key ids)
    const all = Buffer.concat(files.map((f) => readFileSync(join(dir, f))));
    expect(all.includes(Buffer.from(keys[0]!))).toBe(true);
    for (const f of files) {
      const bytes = readFileSync(join(dir, f));
      scanned += bytes.length;
      for (const n of needles) {
        for (const form of [n, Buffer.from(n.toString('base64')), Buffer.from(n.toString('hex'))]) {
          expect(bytes.includes(form), `${f} contains a secret`).toBe(false);
        }
      }
    }
    expect(scanned).toBeGreaterThan(10_000);
    expect(needles).toHaveLength(25);
    rmSync(dir, { recursive: true, force: true });
  });
});
