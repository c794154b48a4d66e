import { CreateKeyCommand, DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keyward, processesIn, type KeywardProcess } from '../../helpers/process.js';
import { storeDigest, sysCall } from '../../helpers/seal.js';
import { kmsClient, tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';

/**
 * Issue 21.3: rotate-root makes escrow shares issued before it recover nothing. It re-issues them
 * in the same rotation, or refuses without --i-understand-escrow-is-invalidated; the status warns
 * while the escrow is stale; `recover` with too few shares says how many are needed.
 */
const QUIET = { KEYWARD_UNSEAL_RATE_PER_MINUTE: '0', KEYWARD_LOG_LEVEL: 'warn', KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1' };
const RECOVERED = 'the passphrase after recovery';

describe('escrow and root rotation', () => {
  const dir = tempDir();
  const procs = processesIn(dir);
  let n = 0;

  /** A copy of the store (the server stopped, so the copy is consistent) in a fresh data directory. */
  function backup(dataDir: string): string {
    const restored = join(dir, `restored-${++n}`);
    mkdirSync(restored, { mode: 0o700 });
    copyFileSync(join(dataDir, 'keyward.db'), join(restored, 'keyward.db'));
    return restored;
  }

  function shareFiles(shares: readonly string[], tag: string): string[] {
    return shares.map((s, i) => {
      const f = join(dir, `escrow-${tag}-${i}`);
      writeFileSync(f, s, { mode: 0o600 });
      return f;
    });
  }

  const recover = (dataDir: string, files: readonly string[]) =>
    keyward(['recover', '--data-dir', dataDir, ...files.flatMap((f) => ['--escrow-share-file', f])], { ...QUIET, KEYWARD_NEW_PASSPHRASE: RECOVERED });

  it('re-issues escrow with the rotation or refuses; warns while stale; recover names the shares needed', { timeout: 180_000 }, async () => {
    const dataDir = join(dir, 'data');
    const init = await keyward(['init', '--data-dir', dataDir, '--json'], { ...QUIET, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    const creds = JSON.parse(init.stdout) as { access_key_id: string; secret_access_key: string; token: string };
    const serverArgs = ['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0'];
    let server: KeywardProcess = await procs.spawn(serverArgs, { ...QUIET, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    const cli = () => ({ KEYWARD_ENDPOINT: server.url, KEYWARD_TOKEN: creds.token, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    const kms = procs.keep(kmsClient(server.url, { accessKeyId: creds.access_key_id, secretAccessKey: creds.secret_access_key }));
    const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const blob = (await kms.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('kept through rotations') }))).CiphertextBlob!;

    const exported = await keyward(['escrow', '--escrow-shares', '3', '--escrow-threshold', '2', '--json'], cli());
    expect(exported.code, exported.stderr).toBe(0);
    const first = (JSON.parse(exported.stdout) as { escrow_shares: string[] }).escrow_shares;
    expect((await sysCall(server.url, 'GET', 'seal-status')).body.escrow).toMatchObject({ shares: 3, threshold: 2, stale: false });

    // a rotation that would silently invalidate them is refused (CLI without a terminal, and the API)
    const refused = await keyward(['rotate-root', '--json'], cli());
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('--i-understand-escrow-is-invalidated');
    expect(refused.stderr).toContain('--escrow-shares');
    const api = await sysCall(server.url, 'POST', 'rotate-root', { passphrase: TEST_PASSPHRASE }, creds.token);
    expect(api.status).toBe(400);
    expect(api.body.__type).toBe('ValidationException');
    expect(String(api.body.message)).toContain('i_understand_escrow_is_invalidated');

    // re-issued with the rotation: new shares, escrow current
    const rotated = await keyward(['rotate-root', '--escrow-shares', '3', '--escrow-threshold', '2', '--json'], cli());
    expect(rotated.code, rotated.stderr).toBe(0);
    const second = (JSON.parse(rotated.stdout) as { escrow_shares: string[]; escrow_threshold: number });
    expect(second.escrow_shares).toHaveLength(3);
    expect(second.escrow_threshold).toBe(2);
    const afterReissue = (await sysCall(server.url, 'GET', 'seal-status')).body;
    expect(afterReissue.escrow).toMatchObject({ stale: false });
    expect(afterReissue.warnings).toBeUndefined();
    await server.stop();
    const backup1 = backup(dataDir);

    // the shares from before the rotation no longer recover a backup taken after it; the new ones do
    const firstFiles = shareFiles(first, 'first');
    const secondFiles = shareFiles(second.escrow_shares, 'second');
    const digest = storeDigest(backup1);
    const old = await recover(backup1, firstFiles.slice(0, 2));
    expect(old.code).toBe(1);
    expect(old.stderr).toContain('do not combine');
    expect(storeDigest(backup1)).toBe(digest);
    // too few shares: says how many are needed, changes nothing
    const few = await recover(backup1, secondFiles.slice(0, 1));
    expect(few.code).toBe(1);
    expect(few.stderr).toContain('needs 2 escrow shares');
    expect(few.stderr).toContain('got 1');
    expect(storeDigest(backup1)).toBe(digest);
    const ok = await recover(backup1, [secondFiles[2]!, secondFiles[0]!]);
    expect(ok.code, ok.stderr).toBe(0);
    const restored = await procs.spawn(['server', '--data-dir', backup1, '--listen', '127.0.0.1:0'], { ...QUIET, KEYWARD_PASSPHRASE: RECOVERED });
    const kms2 = procs.keep(kmsClient(restored.url, { accessKeyId: creds.access_key_id, secretAccessKey: creds.secret_access_key }));
    expect(Buffer.from((await kms2.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe('kept through rotations');
    await restored.stop();

    // rotating anyway, knowingly: the escrow is stale and the status warns until new shares are issued
    server = await procs.spawn(serverArgs, { ...QUIET, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    const knowingly = await keyward(['rotate-root', '--i-understand-escrow-is-invalidated'], cli());
    expect(knowingly.code, knowingly.stderr).toBe(0);
    expect(knowingly.stderr).toContain('warning: The escrow shares issued at');
    const stale = (await sysCall(server.url, 'GET', 'seal-status')).body;
    expect(stale.escrow).toMatchObject({ shares: 3, threshold: 2, stale: true });
    expect(String((stale.warnings as string[])[0])).toContain('keyward escrow');
    const status = await keyward(['status'], cli());
    expect(status.stderr).toContain('warning: The escrow shares issued at');
    await server.stop();
    const backup2 = backup(dataDir);
    const invalidated = await recover(backup2, secondFiles.slice(0, 2));
    expect(invalidated.code).toBe(1);
    expect(invalidated.stderr).toContain('invalidated by a root rotation');

    // new escrow shares clear the warning
    server = await procs.spawn(serverArgs, { ...QUIET, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    expect((await keyward(['escrow', '--escrow-shares', '1', '--escrow-threshold', '1', '--json'], cli())).code).toBe(0);
    const fresh = (await sysCall(server.url, 'GET', 'seal-status')).body;
    expect(fresh.escrow).toMatchObject({ shares: 1, threshold: 1, stale: false });
    expect(fresh.warnings).toBeUndefined();
  });
});
