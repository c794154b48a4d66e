import { closeSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CreateKeyCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { afterAll, describe, expect, it } from 'vitest';
import { keyward, spawnKeyward, type KeywardProcess } from '../../helpers/process.js';
import { callTarget } from '../../helpers/keyward-api.js';
import { kmsClient, tempDir } from '../../helpers/server.js';

/**
 * Issue 13.5, as the security review checked it: after `POST /v1/sys/seal`, read the server's
 * /proc/PID/environ and scan its memory (/proc/PID/mem, every readable anonymous mapping) for the
 * passphrase. The passphrase must be gone from the environment of every process (the variable and
 * its text in the initial environment block), and a `--workers` primary must not keep it after a
 * seal. No process holds a copy of a principal's SigV4 secret after a seal: the server keeps it
 * as bytes it zeroes, from the stored record to the HMAC key (before: 7-12 copies in freed heap).
 * A passphrase sent in an unseal or rekey body is read as bytes and zeroed too, and no copy of it
 * remains, nor of a Shamir share (answered and read as bytes, zeroed). One place is Node's, not Keyward's: the HTTP parser reads every connection into one
 * shared 64 KiB buffer, which keeps the bytes of the longest request read so far past the end of
 * later, shorter ones (docs/security.md). The scans below come after a seal request at least as
 * long as the request that carried the secret, as any later signed request is in practice.
 */
const FAST = { KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1', KEYWARD_LOG_LEVEL: 'warn' };

/** Occurrences of each needle in the process's readable anonymous memory. */
function scanMemory(pid: number, needles: readonly Buffer[]): number[] {
  const maps = readFileSync(`/proc/${pid}/maps`, 'utf8').trim().split('\n');
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  const found = needles.map(() => 0);
  const CHUNK = 1 << 20;
  const overlap = Math.max(...needles.map((n) => n.length));
  const buf = Buffer.alloc(CHUNK + overlap);
  try {
    for (const line of maps) {
      const [range, perms, , , , path] = line.split(/\s+/);
      // code and data of files (node, libraries) are not where a secret read at run time lives
      if (!perms!.startsWith('r') || (path !== undefined && path !== '' && !path.startsWith('['))) continue;
      const [start, end] = range!.split('-').map((x) => parseInt(x, 16)) as [number, number];
      for (let at = start; at < end; at += CHUNK) {
        const len = Math.min(CHUNK + overlap, end - at);
        let got: number;
        try {
          got = readSync(fd, buf, 0, len, at);
        } catch {
          break; // a guard page or a mapping that went away
        }
        const view = buf.subarray(0, got);
        needles.forEach((needle, i) => {
          for (let idx = view.indexOf(needle); idx >= 0 && idx < CHUNK; idx = view.indexOf(needle, idx + 1)) found[i]!++;
        });
      }
    }
  } finally {
    closeSync(fd);
  }
  return found;
}

function childPids(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

describe('secrets do not outlive their use (/proc scan after seal)', () => {
  const dir = tempDir();
  const running: KeywardProcess[] = [];
  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  async function sealedServer(workers: number): Promise<{ server: KeywardProcess; passphrase: string; secret: string }> {
    // a passphrase that appears nowhere in this test's sources (so a scan can only find the server's copies)
    const passphrase = `pp-${Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString('hex')}`;
    const dataDir = join(dir, `data-${workers}`);
    const init = await keyward(['init', '--data-dir', dataDir, '--json'], { ...FAST, KEYWARD_PASSPHRASE: passphrase });
    expect(init.code, init.stderr).toBe(0);
    const creds = JSON.parse(init.stdout) as { access_key_id: string; secret_access_key: string; token: string };
    const server = await spawnKeyward(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--workers', String(workers)], { ...FAST, KEYWARD_PASSPHRASE: passphrase }, 60_000);
    running.push(server);
    const kms = kmsClient(server.url, { accessKeyId: creds.access_key_id, secretAccessKey: creds.secret_access_key });
    try {
      const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
      for (let i = 0; i < 10; i++) await kms.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('x') }));
    } finally {
      kms.destroy();
    }
    const sealed = await fetch(`${server.url}/v1/sys/seal`, { method: 'POST', headers: { authorization: `Bearer ${creds.token}`, 'content-type': 'application/json' }, body: '{}' });
    expect(sealed.status).toBe(200);
    return { server, passphrase, secret: creds.secret_access_key };
  }

  it('one process: KEYWARD_PASSPHRASE is gone from its environment block', async () => {
    const { server, passphrase } = await sealedServer(1);
    const environ = readFileSync(`/proc/${server.proc.pid!}/environ`);
    expect(environ.includes('KEYWARD_PASSPHRASE')).toBe(false);
    expect(environ.includes(passphrase)).toBe(false);
  }, 90_000);

  it('--workers 2: no process has it in its environment, and the primary holds no copy after the seal', async () => {
    const { server, passphrase, secret } = await sealedServer(2);
    const primary = server.proc.pid!;
    const workers = childPids(primary);
    expect(workers).toHaveLength(2);
    for (const pid of [primary, ...workers]) {
      const environ = readFileSync(`/proc/${pid}/environ`);
      expect(environ.includes('KEYWARD_PASSPHRASE'), `environ of ${pid}`).toBe(false);
      expect(environ.includes(passphrase), `environ of ${pid}`).toBe(false);
    }
    // the primary never authenticates anyone: neither the passphrase nor a SigV4 secret is in its memory
    expect(scanMemory(primary, [Buffer.from(passphrase), Buffer.from(secret)])).toEqual([0, 0]);
    // the workers got the passphrase as bytes they zeroed after the unseal
    for (const pid of workers) expect(scanMemory(pid, [Buffer.from(passphrase)]), `memory of worker ${pid}`).toEqual([0]);
    // the workers authenticated the signed requests: their copies of the secret were zeroed on seal
    for (const pid of workers) expect(scanMemory(pid, [Buffer.from(secret)]), `memory of worker ${pid}`).toEqual([0]);
  }, 120_000);

  it('one process unsealed over HTTP: after a seal, no copy of the passphrase sent nor of any SigV4 secret', async () => {
    const passphrase = `pp-${Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString('hex')}`;
    const dataDir = join(dir, 'data-http');
    const init = await keyward(['init', '--data-dir', dataDir, '--json'], { ...FAST, KEYWARD_PASSPHRASE: passphrase });
    expect(init.code, init.stderr).toBe(0);
    const admin = JSON.parse(init.stdout) as { access_key_id: string; secret_access_key: string; token: string };
    // no passphrase in the environment: the server starts sealed and is unsealed over HTTP
    const server = await spawnKeyward(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], FAST, 60_000);
    running.push(server);
    const unsealed = await fetch(`${server.url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase }) });
    expect(unsealed.status, await unsealed.text()).toBe(200);
    const created = await callTarget(server.url, 'Keyward.CreatePrincipal', { Name: 'second', Role: 'admin' }, { token: admin.token });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const second = (created.body.Credentials as { SecretAccessKey: string; AccessKeyId: string });
    for (const creds of [{ accessKeyId: admin.access_key_id, secretAccessKey: admin.secret_access_key }, { accessKeyId: second.AccessKeyId, secretAccessKey: second.SecretAccessKey }]) {
      const kms = kmsClient(server.url, creds);
      try {
        const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
        for (let i = 0; i < 10; i++) await kms.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('x') }));
      } finally {
        kms.destroy();
      }
    }
    const sealed = await fetch(`${server.url}/v1/sys/seal`, { method: 'POST', headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' }, body: '{}' });
    expect(sealed.status).toBe(200);
    const [pp, initSecret, createdSecret] = scanMemory(server.proc.pid!, [Buffer.from(passphrase), Buffer.from(admin.secret_access_key), Buffer.from(second.SecretAccessKey)]);
    // the secret of a principal read from the store, and of one created (and answered) by this process
    expect([initSecret, createdSecret]).toEqual([0, 0]);
    // before: 4 copies of the passphrase (JSON string, raw body, chunks), then 1 (the SQLite write
    // worker's clone of Node's 8 KiB Buffer pool, which held the body when the audit record was posted)
    expect(pp).toBe(0);
  }, 120_000);

  it('one process: after a rekey and a rotate-root over HTTP and a seal, no copy of the old or the new passphrase', async () => {
    const passphrase = `pp-${Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString('hex')}`;
    const newPassphrase = `np-${Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString('hex')}`;
    const dataDir = join(dir, 'data-rekey');
    const init = await keyward(['init', '--data-dir', dataDir, '--json'], { ...FAST, KEYWARD_PASSPHRASE: passphrase });
    expect(init.code, init.stderr).toBe(0);
    const admin = JSON.parse(init.stdout) as { token: string };
    const server = await spawnKeyward(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], FAST, 60_000);
    running.push(server);
    const post = (path: string, body: unknown, headers: Record<string, string> = {}) => fetch(`${server.url}/v1/sys/${path}`, {
      method: 'POST', headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body),
    });
    const unsealed = await post('unseal', { passphrase });
    expect(unsealed.status, await unsealed.text()).toBe(200);
    const rekeyed = await post('rekey', { passphrase, new_passphrase: newPassphrase });
    expect(rekeyed.status, await rekeyed.text()).toBe(200);
    // rotate-root is authorised by the (new) passphrase the same way
    const rotated = await post('rotate-root', { passphrase: newPassphrase });
    expect(rotated.status, await rotated.text()).toBe(200);
    // the rekey request is longer than a bare seal request: pad the seal so that Node's shared read
    // buffer no longer holds the rekey request's tail (what any longer request does; docs/security.md)
    const sealed = await post('seal', {}, { 'x-padding': 'x'.repeat(1024) });
    expect(sealed.status).toBe(200);
    // before the SQLite write worker fix: 1 copy of each (the worker's clone of Node's Buffer pool)
    expect(scanMemory(server.proc.pid!, [Buffer.from(passphrase), Buffer.from(newPassphrase)])).toEqual([0, 0]);
  }, 120_000);
  it('shamir 3-of-5 initialised and unsealed over HTTP: after a seal, no copy of any share', async () => {
    const dataDir = join(dir, 'data-shamir');
    // an uninitialised data directory: init over HTTP answers the shares (the only time they exist as text)
    const server = await spawnKeyward(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], FAST, 60_000);
    running.push(server);
    const post = async (path: string, body: unknown, token?: string) => {
      const r = await fetch(`${server.url}/v1/sys/${path}`, {
        method: 'POST', headers: { 'content-type': 'application/json', ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body),
      });
      const text = await r.text();
      expect(r.status, text).toBe(200);
      return JSON.parse(text) as Record<string, unknown>;
    };
    const init = await post('init', { seal: 'shamir', shares: 5, threshold: 3 });
    const shares = init.shares as string[];
    const token = (init.credentials as { token: string }).token;
    expect(shares).toHaveLength(5);
    await post('seal', {}, token);
    let nonce: string | undefined;
    for (const share of [shares[3], shares[0], shares[4]]) {
      const r = await post('unseal', { share, ...(nonce !== undefined ? { nonce } : {}) });
      if (typeof r.nonce === 'string') nonce = r.nonce;
    }
    expect((await (await fetch(`${server.url}/v1/sys/seal-status`)).json()) as unknown).toMatchObject({ sealed: false });
    // padded like the other cases: Node's shared read buffer (docs/security.md) is not what this checks
    const sealed = await fetch(`${server.url}/v1/sys/seal`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-padding': 'x'.repeat(1024) }, body: '{}' });
    expect(sealed.status).toBe(200);
    // every share (also the two never sent back), as the text init answered and as its decoded bytes;
    // before: 2-3 copies of each text (answer JSON, strings) and of its bytes (the library's arrays)
    const found = scanMemory(server.proc.pid!, [...shares.map((s) => Buffer.from(s)), ...shares.map((s) => Buffer.from(s, 'base64'))]);
    expect({ text: found.slice(0, 5), bytes: found.slice(5) }).toEqual({ text: [0, 0, 0, 0, 0], bytes: [0, 0, 0, 0, 0] });
  }, 120_000);
  it('shamir: after an escrow and a rekey to new shares over HTTP and a seal, no copy of any old, escrow or new share', async () => {
    const dataDir = join(dir, 'data-shamir-rekey');
    const server = await spawnKeyward(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], FAST, 60_000);
    running.push(server);
    const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
      const r = await fetch(`${server.url}/v1/sys/${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
      const text = await r.text();
      expect(r.status, text).toBe(200);
      return JSON.parse(text) as Record<string, unknown>;
    };
    const init = await post('init', { seal: 'shamir', shares: 5, threshold: 3 });
    const old = init.shares as string[];
    const auth = { authorization: `Bearer ${(init.credentials as { token: string }).token}` };
    const escrow = (await post('escrow', { shares: old.slice(0, 3), escrow_shares: 3, escrow_threshold: 2 }, auth)).escrow_shares as string[];
    const fresh = (await post('rekey', { shares: old.slice(2), new_seal: 'shamir', new_shares: 3, new_threshold: 2 }, auth)).shares as string[];
    expect([escrow.length, fresh.length]).toEqual([3, 3]);
    // padded past the longest request (Node's shared read buffer, docs/security.md)
    await post('seal', {}, { ...auth, 'x-padding': 'x'.repeat(1024) });
    // before: 2 to 4 copies of each text and of its bytes
    const all = [...old, ...escrow, ...fresh];
    const found = scanMemory(server.proc.pid!, [...all.map((s) => Buffer.from(s)), ...all.map((s) => Buffer.from(s, 'base64'))]);
    expect({ text: found.slice(0, all.length), bytes: found.slice(all.length) }).toEqual({ text: all.map(() => 0), bytes: all.map(() => 0) });
  }, 120_000);
});
