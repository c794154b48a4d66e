import { CreateKeyCommand, DecryptCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keyward, processesIn } from '../../helpers/process.js';
import { storeDigest, sysCall } from '../../helpers/seal.js';
import { kmsClient, tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';

const QUIET = { KEYWARD_UNSEAL_RATE_PER_MINUTE: '0', KEYWARD_LOG_LEVEL: 'warn', KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1' };
const SECOND = 'second passphrase, changed offline';
const THIRD = 'third passphrase, changed online';

describe('passphrase: offline change-passphrase, online rekey and rotate-root through the CLI', () => {
  const dir = tempDir();
  const procs = processesIn(dir);

  it('each step re-wraps only the root key; data made before every step decrypts; wrong passphrases change nothing', { timeout: 120_000 }, async () => {
    const dataDir = join(dir, 'data');
    const init = await keyward(['init', '--data-dir', dataDir, '--json'], { ...QUIET, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    expect(init.code, init.stderr).toBe(0);
    const creds = JSON.parse(init.stdout) as { access_key_id: string; secret_access_key: string; token: string };
    const start = async (passphrase: string) => {
      const p = await procs.spawn(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], { ...QUIET, KEYWARD_PASSPHRASE: passphrase });
      const kms = procs.keep(kmsClient(p.url, { accessKeyId: creds.access_key_id, secretAccessKey: creds.secret_access_key }));
      return { p, kms };
    };
    const blobs: Array<[Uint8Array, string]> = [];
    const encryptNow = async (kms: KMSClient, text: string) => {
      const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
      blobs.push([(await kms.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from(text) }))).CiphertextBlob!, text]);
    };
    const decryptAll = async (kms: KMSClient) => {
      for (const [blob, text] of blobs) expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe(text);
    };

    let { p, kms } = await start(TEST_PASSPHRASE);
    await encryptNow(kms, 'before the offline change');
    await p.stop();

    // offline: a wrong current passphrase is refused and the store is untouched
    const digest = storeDigest(dataDir);
    const wrong = await keyward(['change-passphrase', '--data-dir', dataDir], { ...QUIET, KEYWARD_PASSPHRASE: 'not the passphrase', KEYWARD_NEW_PASSPHRASE: SECOND });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('does not unlock');
    expect(storeDigest(dataDir)).toBe(digest);
    const short = await keyward(['change-passphrase', '--data-dir', dataDir], { ...QUIET, KEYWARD_PASSPHRASE: TEST_PASSPHRASE, KEYWARD_NEW_PASSPHRASE: 'short' });
    expect(short.code).toBe(1);
    expect(short.stderr).toContain('at least 8 characters');
    expect(storeDigest(dataDir)).toBe(digest);
    const changed = await keyward(['change-passphrase', '--data-dir', dataDir], { ...QUIET, KEYWARD_PASSPHRASE: TEST_PASSPHRASE, KEYWARD_NEW_PASSPHRASE: SECOND });
    expect(changed.code, changed.stderr).toBe(0);

    // the old passphrase no longer unseals; the new one does
    ({ p, kms } = await start(TEST_PASSPHRASE));
    expect(p.output()).toContain('UnsealFailedException');
    expect((await sysCall(p.url, 'POST', 'unseal', { passphrase: SECOND })).body.sealed).toBe(false);
    await decryptAll(kms);
    await encryptNow(kms, 'before the online rekey');

    // online rekey through the CLI: a wrong current passphrase changes nothing
    const env = { KEYWARD_ENDPOINT: p.url, KEYWARD_TOKEN: creds.token };
    const badRekey = await keyward(['rekey'], { ...env, KEYWARD_PASSPHRASE: 'not the passphrase', KEYWARD_NEW_PASSPHRASE: THIRD });
    expect(badRekey.code).toBe(1);
    expect(badRekey.stderr).toContain('UnsealFailedException');
    const rekey = await keyward(['rekey'], { ...env, KEYWARD_PASSPHRASE: SECOND, KEYWARD_NEW_PASSPHRASE: THIRD });
    expect(rekey.code, rekey.stderr).toBe(0);
    await encryptNow(kms, 'before the root rotation');

    // root rotation: same passphrase, new root key
    const rotate = await keyward(['rotate-root', '--json'], { ...env, KEYWARD_PASSPHRASE: THIRD });
    expect(rotate.code, rotate.stderr).toBe(0);
    expect(JSON.parse(rotate.stdout)).toMatchObject({ rotated: 'root', type: 'passphrase' });
    await encryptNow(kms, 'after the root rotation');
    await p.stop();

    ({ p, kms } = await start(THIRD));
    expect((await sysCall(p.url, 'GET', 'seal-status')).body.sealed).toBe(false);
    await decryptAll(kms);
  });
});
