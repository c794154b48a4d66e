import { CreateKeyCommand, DecryptCommand, DisableKeyCommand, EnableKeyCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keyward, processesIn } from '../../helpers/process.js';
import { storeDigest, sysCall } from '../../helpers/seal.js';
import { kmsClient, tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';

// retries off: this test moves the outer KMS between states and checks each by hand (retries: auto-unseal-retry.test.ts)
const QUIET = { KEYWARD_AUTO_UNSEAL_RETRY_MAX_MS: '0', KEYWARD_UNSEAL_RATE_PER_MINUTE: '0', KEYWARD_LOG_LEVEL: 'warn', KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1' };

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface Creds { access_key_id: string; secret_access_key: string; token: string; recovery_shares?: string[] }

describe('transit seal: one real Keyward unsealing another; static seal', () => {
  const dir = tempDir();
  const procs = processesIn(dir);
  const start = (args: string[], env: NodeJS.ProcessEnv) => procs.spawn(['server', ...args], env);
  const client = (url: string, c: Creds) => procs.keep(kmsClient(url, { accessKeyId: c.access_key_id, secretAccessKey: c.secret_access_key }));
  const decrypt = async (kms: KMSClient, blob: Uint8Array) => Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString();

  it('init, auto-unseal, outer KMS down or key disabled stays sealed, recovery, migration to static and shamir', { timeout: 120_000 }, async () => {
    // the outer Keyward, on a fixed port so it can be restarted
    const outerDir = join(dir, 'outer');
    const outerEnv = { ...QUIET, KEYWARD_PASSPHRASE: TEST_PASSPHRASE };
    const outerInit = await keyward(['init', '--data-dir', outerDir, '--json'], outerEnv);
    expect(outerInit.code, outerInit.stderr).toBe(0);
    const outerCreds = JSON.parse(outerInit.stdout) as Creds & { credentials_file: string };
    const outerArgs = ['--data-dir', outerDir, '--listen', `127.0.0.1:${await freePort()}`];
    let outer = await start(outerArgs, outerEnv);
    const outerKms = client(outer.url, outerCreds);
    const wrapKey = (await outerKms.send(new CreateKeyCommand({ Description: 'wraps the inner root key' }))).KeyMetadata!.KeyId!;

    const innerDir = join(dir, 'inner');
    const transit = ['--transit-endpoint', outer.url, '--transit-key-id', wrapKey, '--transit-credentials-file', outerCreds.credentials_file];
    const init = await keyward(['init', '--data-dir', innerDir, '--seal', 'transit', ...transit, '--recovery-shares', '3', '--recovery-threshold', '2', '--json'], QUIET);
    expect(init.code, init.stderr).toBe(0);
    const inner = JSON.parse(init.stdout) as Creds;
    expect(inner.recovery_shares).toHaveLength(3);
    // the outer key id is stored; the outer credentials are not
    const sealRecord = readFileSync(join(innerDir, 'keyward.db'));
    expect(sealRecord.includes(Buffer.from(outerCreds.secret_access_key))).toBe(false);

    const innerArgs = ['--data-dir', innerDir, '--listen', '127.0.0.1:0', ...transit];
    let server = await start(innerArgs, QUIET);
    expect((await sysCall(server.url, 'GET', 'seal-status')).body).toMatchObject({ sealed: false, type: 'transit' });
    let kms = client(server.url, inner);
    const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const blob = (await kms.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('wrapped by another keyward') }))).CiphertextBlob!;
    await server.stop();
    const digest = storeDigest(innerDir);

    // the outer KMS is down: clear error, sealed, store untouched
    await outer.stop();
    server = await start(innerArgs, QUIET);
    expect(server.output()).toContain('SealUnavailableException');
    expect(server.output()).toContain('unreachable');
    expect((await sysCall(server.url, 'GET', 'seal-status')).body).toMatchObject({ sealed: true });
    expect(storeDigest(innerDir)).toBe(digest);

    // the outer KMS is back but its key is disabled: clear error, still sealed; enabled: unseal retry works
    outer = await start(outerArgs, outerEnv);
    const outerKms2 = client(outer.url, outerCreds);
    await outerKms2.send(new DisableKeyCommand({ KeyId: wrapKey }));
    const disabled = await sysCall(server.url, 'POST', 'unseal', {});
    expect(disabled).toMatchObject({ status: 503, body: { __type: 'SealUnavailableException' } });
    expect(String(disabled.body.message)).toContain('disabled');
    expect(storeDigest(innerDir)).toBe(digest);
    await outerKms2.send(new EnableKeyCommand({ KeyId: wrapKey }));
    expect((await sysCall(server.url, 'POST', 'unseal', {})).body.sealed).toBe(false);
    kms = client(server.url, inner);
    expect(await decrypt(kms, blob)).toBe('wrapped by another keyward');
    await server.stop();

    // migrate transit -> static with the recovery shares (kept), through the CLI's rekey
    const staticKey = randomBytes(32).toString('hex');
    const keyFile = join(dir, 'root.key');
    writeFileSync(keyFile, `${staticKey}\n`, { mode: 0o600 });
    server = await start([...innerArgs, '--root-key-file', keyFile], QUIET);
    const shareFiles = inner.recovery_shares!.slice(0, 2).map((s, i) => {
      const f = join(dir, `recovery-${i}`);
      writeFileSync(f, s, { mode: 0o600 });
      return f;
    });
    const rekey = await keyward(['rekey', '--new-seal', 'static', '--share-file', shareFiles[0]!, '--share-file', shareFiles[1]!, '--json'], { KEYWARD_ENDPOINT: server.url, KEYWARD_TOKEN: inner.token });
    expect(rekey.code, rekey.stderr).toBe(0);
    expect(JSON.parse(rekey.stdout)).toMatchObject({ type: 'static', recovery_threshold: 2 });
    expect(JSON.parse(rekey.stdout).recovery_shares).toBeUndefined();
    await server.stop();
    await outer.stop();

    // static: unseals with the outer KMS gone; a wrong key or none is a clear error and stays sealed
    const wrongKey = await start(['--data-dir', innerDir, '--listen', '127.0.0.1:0'], { ...QUIET, KEYWARD_ROOT_KEY: randomBytes(32).toString('hex') });
    expect(wrongKey.output()).toContain('UnsealFailedException');
    expect(wrongKey.output()).toContain('not the one this installation was sealed with');
    await wrongKey.stop();
    const noKey = await start(['--data-dir', innerDir, '--listen', '127.0.0.1:0'], QUIET);
    expect(noKey.output()).toContain('KEYWARD_ROOT_KEY');
    await noKey.stop();
    server = await start(['--data-dir', innerDir, '--listen', '127.0.0.1:0'], { ...QUIET, KEYWARD_ROOT_KEY: staticKey });
    expect(server.output()).not.toContain(staticKey);
    kms = client(server.url, inner);
    expect(await decrypt(kms, blob)).toBe('wrapped by another keyward');

    // two worker processes behind one port: each unseals itself with the static key
    await server.stop();
    const cluster = await start(['--data-dir', innerDir, '--listen', '127.0.0.1:0', '--workers', '2'], { ...QUIET, KEYWARD_ROOT_KEY: staticKey });
    expect(cluster.output()).toContain('2 workers');
    const viaCluster = client(cluster.url, inner);
    for (let i = 0; i < 4; i++) expect(await decrypt(viaCluster, blob)).toBe('wrapped by another keyward');
    await cluster.stop();
    server = await start(['--data-dir', innerDir, '--listen', '127.0.0.1:0'], { ...QUIET, KEYWARD_ROOT_KEY: staticKey });
    kms = client(server.url, inner);

    // static -> shamir 2/2 with the same recovery shares, then unseal by shares
    const toShamir = await sysCall(server.url, 'POST', 'rekey', { shares: inner.recovery_shares!.slice(1), new_seal: 'shamir', new_shares: 2, new_threshold: 2 }, inner.token);
    expect(toShamir.status).toBe(200);
    const shares = toShamir.body.shares as string[];
    await sysCall(server.url, 'POST', 'seal', {}, inner.token);
    // the first share answers the ceremony's nonce; the next share carries it
    const first = await sysCall(server.url, 'POST', 'unseal', { share: shares[1] });
    expect((await sysCall(server.url, 'POST', 'unseal', { share: shares[0], nonce: first.body.nonce })).body.sealed).toBe(false);
    expect(await decrypt(kms, blob)).toBe('wrapped by another keyward');
  });
});
