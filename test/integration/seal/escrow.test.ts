import { CreateKeyCommand, DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keyward, processesIn } from '../../helpers/process.js';
import { storeDigest, sysCall } from '../../helpers/seal.js';
import { kmsClient, tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';

const QUIET = { KEYWARD_UNSEAL_RATE_PER_MINUTE: '0', KEYWARD_LOG_LEVEL: 'warn', KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1' };
const RECOVERED = 'the passphrase after recovery';

describe('escrow: root key as Shamir shares; recovery from a store backup', () => {
  const dir = tempDir();
  const procs = processesIn(dir);

  it('exports 3 shares (2 needed), recovers a backup under a new passphrase; wrong shares change nothing', { timeout: 120_000 }, async () => {
    const dataDir = join(dir, 'data');
    const init = await keyward(['init', '--data-dir', dataDir, '--json'], { ...QUIET, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    const creds = JSON.parse(init.stdout) as { access_key_id: string; secret_access_key: string; token: string };
    const server = await procs.spawn(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], { ...QUIET, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    const kms = kmsClient(server.url, { accessKeyId: creds.access_key_id, secretAccessKey: creds.secret_access_key });
    const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const blob = (await kms.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('survives a lost passphrase') }))).CiphertextBlob!;
    kms.destroy();

    expect((await sysCall(server.url, 'POST', 'escrow', { passphrase: TEST_PASSPHRASE })).status).toBe(403);
    expect((await sysCall(server.url, 'POST', 'escrow', { passphrase: 'not the passphrase' }, creds.token)).body.__type).toBe('UnsealFailedException');
    const exported = await keyward(['escrow', '--escrow-shares', '3', '--escrow-threshold', '2', '--json'], { KEYWARD_ENDPOINT: server.url, KEYWARD_TOKEN: creds.token, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    expect(exported.code, exported.stderr).toBe(0);
    const escrow = JSON.parse(exported.stdout) as { escrow_shares: string[]; escrow_threshold: number };
    expect(escrow.escrow_shares).toHaveLength(3);
    await server.stop();

    // the backup: the store file alone; the passphrase is "lost"
    const restored = join(dir, 'restored');
    mkdirSync(restored, { mode: 0o700 });
    copyFileSync(join(dataDir, 'keyward.db'), join(restored, 'keyward.db'));
    const files = escrow.escrow_shares.map((s, i) => {
      const f = join(dir, `escrow-${i}`);
      writeFileSync(f, s, { mode: 0o600 });
      return f;
    });

    // a wrong share (well formed, one byte changed) does not open it: clear error, store untouched
    const damaged = Buffer.from(escrow.escrow_shares[1]!, 'base64');
    damaged[3] = damaged[3]! ^ 0x01;
    const foreign = join(dir, 'damaged');
    writeFileSync(foreign, damaged.toString('base64'), { mode: 0o600 });
    const digest = storeDigest(restored);
    const bad = await keyward(['recover', '--data-dir', restored, '--escrow-share-file', files[0]!, '--escrow-share-file', foreign], { ...QUIET, KEYWARD_NEW_PASSPHRASE: RECOVERED });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('escrow shares do not combine');
    expect(storeDigest(restored)).toBe(digest);

    const ok = await keyward(['recover', '--data-dir', restored, '--escrow-share-file', files[2]!, '--escrow-share-file', files[0]!], { ...QUIET, KEYWARD_NEW_PASSPHRASE: RECOVERED });
    expect(ok.code, ok.stderr).toBe(0);
    const again = await procs.spawn(['server', '--data-dir', restored, '--listen', '127.0.0.1:0'], { ...QUIET, KEYWARD_PASSPHRASE: RECOVERED });
    expect((await sysCall(again.url, 'GET', 'seal-status')).body).toMatchObject({ sealed: false, type: 'passphrase' });
    const kms2 = kmsClient(again.url, { accessKeyId: creds.access_key_id, secretAccessKey: creds.secret_access_key });
    expect(Buffer.from((await kms2.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe('survives a lost passphrase');
    kms2.destroy();
  });
});
