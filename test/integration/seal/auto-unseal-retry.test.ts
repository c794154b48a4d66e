import { CreateKeyCommand, DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keyward, processesIn } from '../../helpers/process.js';
import { sysCall } from '../../helpers/seal.js';
import { kmsClient, tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';
import { pollUntil } from '../../helpers/wait.js';

/**
 * Issue 21.4: an auto-unseal seal retries with backoff. The inner Keyward (transit seal) starts
 * while the outer one is stopped, keeps retrying (one log line per attempt), reads its
 * credentials file again on every attempt, and unseals itself once the outer is back and the
 * file is right. An operator's seal stops the retries.
 */
const QUIET = { KEYWARD_UNSEAL_RATE_PER_MINUTE: '0', KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1' };

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

interface Creds { access_key_id: string; secret_access_key: string; token: string; credentials_file: string }

/** The pino lines of a process's output with this message. */
function logLines(output: string, msg: string): Array<Record<string, unknown>> {
  return output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === msg);
}

describe('auto-unseal retries (transit seal, outer Keyward stopped then restarted)', () => {
  const dir = tempDir();
  const procs = processesIn(dir);

  it('retries with backoff, re-reads the credentials file, unseals when the outer is back; an operator seal stops it', { timeout: 180_000 }, async () => {
    const outerDir = join(dir, 'outer');
    const outerEnv = { ...QUIET, KEYWARD_LOG_LEVEL: 'warn', KEYWARD_PASSPHRASE: TEST_PASSPHRASE };
    const outerInit = await keyward(['init', '--data-dir', outerDir, '--json'], outerEnv);
    expect(outerInit.code, outerInit.stderr).toBe(0);
    const outerCreds = JSON.parse(outerInit.stdout) as Creds;
    const outerArgs = ['server', '--data-dir', outerDir, '--listen', `127.0.0.1:${await freePort()}`];
    let outer = await procs.spawn(outerArgs, outerEnv);
    const outerKms = procs.keep(kmsClient(outer.url, { accessKeyId: outerCreds.access_key_id, secretAccessKey: outerCreds.secret_access_key }));
    const wrapKey = (await outerKms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;

    const innerDir = join(dir, 'inner');
    const credsFile = join(dir, 'transit-credentials.json');
    const good = readFileSync(outerCreds.credentials_file, 'utf8');
    writeFileSync(credsFile, good, { mode: 0o600 });
    const transit = ['--transit-endpoint', outer.url, '--transit-key-id', wrapKey, '--transit-credentials-file', credsFile];
    const init = await keyward(['init', '--data-dir', innerDir, '--seal', 'transit', ...transit, '--json'], { ...QUIET, KEYWARD_LOG_LEVEL: 'warn' });
    expect(init.code, init.stderr).toBe(0);
    const inner = JSON.parse(init.stdout) as Creds;

    // the outer KMS is down, and the credentials file is wrong too
    await outer.stop();
    writeFileSync(credsFile, JSON.stringify({ ...JSON.parse(good), secret_access_key: 'not-the-secret-access-key-at-all' }));
    const innerEnv = { ...QUIET, KEYWARD_LOG_LEVEL: 'info', KEYWARD_AUTO_UNSEAL_RETRY_MAX_MS: '2000' };
    const server = await procs.spawn(['server', '--data-dir', innerDir, '--listen', '127.0.0.1:0', ...transit], innerEnv);
    expect(server.output()).toContain('(retrying)');
    expect((await sysCall(server.url, 'GET', 'seal-status')).body).toMatchObject({ sealed: true, auto_unseal: 'retrying' });
    // each attempt is logged, with the reason and when the next one comes (backoff: 1 s, then 2 s at most)
    const unreachable = await pollUntil(async () => logLines(server.output(), 'auto-unseal failed; retrying (an operator seal stops the retries)'), (l) => l.length >= 3, 'three logged attempts');
    expect(unreachable[0]).toMatchObject({ attempt: 1, code: 'SealUnavailableException', retryInMs: 1000 });
    expect(unreachable[1]).toMatchObject({ attempt: 2, retryInMs: 2000 });
    expect(unreachable[2]).toMatchObject({ attempt: 3, retryInMs: 2000 });
    expect(String(unreachable[0]!.reason)).toContain('unreachable');

    // the outer KMS comes back: the wrong credentials are refused, attempt after attempt
    outer = await procs.spawn(outerArgs, outerEnv);
    await pollUntil(async () => logLines(server.output(), 'auto-unseal failed; retrying (an operator seal stops the retries)'),
      (l) => l.some((x) => x.code === 'SealUnavailableException' && !String(x.reason).includes('unreachable')), 'an attempt refused by the outer KMS');
    expect((await sysCall(server.url, 'GET', 'seal-status')).body).toMatchObject({ sealed: true });
    // fixing the file fixes the node: the next attempt reads it again and unseals
    writeFileSync(credsFile, good);
    await pollUntil(async () => (await sysCall(server.url, 'GET', 'seal-status')).body, (b) => b.sealed === false, 'the inner node unsealing itself', 60_000);
    // the log line may reach the pipe after the status changed
    expect(await pollUntil(async () => logLines(server.output(), 'auto-unseal succeeded'), (l) => l.length > 0, 'the success logged')).toHaveLength(1);
    const kms = procs.keep(kmsClient(server.url, { accessKeyId: inner.access_key_id, secretAccessKey: inner.secret_access_key }));
    const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const blob = (await kms.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('back') }))).CiphertextBlob!;
    expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe('back');

    // an operator's seal: no retries (the status says so); only an operator's unseal opens it again
    const sealed = await sysCall(server.url, 'POST', 'seal', {}, inner.token);
    expect(sealed.status, JSON.stringify(sealed.body)).toBe(200);
    expect((await sysCall(server.url, 'GET', 'seal-status')).body).toMatchObject({ sealed: true, auto_unseal: 'sealed_by_operator' });
    const unsealed = await sysCall(server.url, 'POST', 'unseal', {});
    expect(unsealed.body).toMatchObject({ sealed: false });
  });
});
