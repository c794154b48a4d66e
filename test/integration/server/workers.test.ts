import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CreateKeyCommand, DecryptCommand, DisableKeyCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf } from '../../helpers/errors.js';
import { callTarget } from '../../helpers/keyward-api.js';
import { keyward, spawnKeyward, type KeywardProcess } from '../../helpers/process.js';
import { kmsClient, tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';

const FAST = { KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1', KEYWARD_LOG_LEVEL: 'warn' };

function childPids(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Health answers name the node (host-pid): a set of them shows which workers answered. */
async function nodesAnswering(url: string, requests: number): Promise<Set<string>> {
  const nodes = new Set<string>();
  for (let i = 0; i < requests; i++) {
    // a new connection each time: the primary hands connections to workers in turn
    const res = await fetch(`${url}/v1/sys/health`, { headers: { connection: 'close' } });
    nodes.add(((await res.json()) as { node: string }).node);
  }
  return nodes;
}

describe('keyward server --workers 2 (node:cluster)', () => {
  const dir = tempDir();
  const dataDir = join(dir, 'data');
  let server: KeywardProcess;
  let kms: KMSClient;
  let token: string;

  beforeAll(async () => {
    const init = await keyward(['init', '--data-dir', dataDir, '--json'], { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    expect(init.code, init.stderr).toBe(0);
    const creds = JSON.parse(init.stdout) as { access_key_id: string; secret_access_key: string; token: string };
    token = creds.token;
    server = await spawnKeyward(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--workers', '2'], { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    kms = kmsClient(server.url, { accessKeyId: creds.access_key_id, secretAccessKey: creds.secret_access_key });
  }, 30_000);
  afterAll(async () => {
    kms?.destroy();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs two unsealed workers behind one port', async () => {
    expect(server.output()).toContain('(2 workers)');
    expect(childPids(server.proc.pid!)).toHaveLength(2);
    const nodes = await nodesAnswering(server.url, 6);
    expect(nodes.size).toBe(2);
    const health = await fetch(`${server.url}/v1/sys/health`);
    expect(health.status).toBe(200);
  });

  it('a key made through one worker encrypts and decrypts through either, and a state change reaches both', async () => {
    const created = await kms.send(new CreateKeyCommand({}));
    const keyId = created.KeyMetadata!.KeyId!;
    // separate connections so both workers serve some of the calls
    const blobs: Uint8Array[] = [];
    for (let i = 0; i < 6; i++) {
      const c = kmsClient(server.url, await kms.config.credentials());
      try {
        blobs.push((await c.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(`m${i}`) }))).CiphertextBlob!);
        const back = await c.send(new DecryptCommand({ CiphertextBlob: blobs[i === 0 ? 0 : i - 1] }));
        expect(Buffer.from(back.Plaintext!).toString()).toBe(`m${i === 0 ? 0 : i - 1}`);
      } finally {
        c.destroy();
      }
    }
    await kms.send(new DisableKeyCommand({ KeyId: keyId }));
    // the other worker sees the commit on its next store poll (250 ms)
    await new Promise((r) => setTimeout(r, 1000));
    for (let i = 0; i < 4; i++) {
      const c = kmsClient(server.url, await kms.config.credentials());
      try {
        expect((await errorOf(c.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })))).name).toBe('DisabledException');
      } finally {
        c.destroy();
      }
    }
  });

  it('each worker keeps its own audit chain and the log verifies', async () => {
    const report = await callTarget(server.url, 'Keyward.VerifyAudit', {}, { token });
    expect(report.status, JSON.stringify(report.body)).toBe(200);
    expect(report.body.ok).toBe(true);
    // the init (offline) and both workers have written records, each under its own node id
    expect((report.body.chains as unknown[]).length).toBeGreaterThanOrEqual(2);
  });

  it('replaces a worker that dies, and SIGTERM stops every worker', async () => {
    const [first] = childPids(server.proc.pid!);
    process.kill(first!, 'SIGKILL');
    const deadline = Date.now() + 15_000;
    let pids: number[] = [];
    while (Date.now() < deadline) {
      pids = childPids(server.proc.pid!);
      if (pids.length === 2 && !pids.includes(first!)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(pids).toHaveLength(2);
    expect(pids).not.toContain(first);
    // the replacement unseals itself: every worker answers healthy
    await new Promise((r) => setTimeout(r, 1500));
    for (let i = 0; i < 4; i++) expect((await fetch(`${server.url}/v1/sys/health`, { headers: { connection: 'close' } })).status).toBe(200);
    expect(await server.stop()).toBe(0);
    expect(pids.filter(alive)).toEqual([]);
  }, 30_000);

  it('refuses to start workers that could not unseal themselves', async () => {
    const r = await keyward(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--workers', '2'], { ...FAST });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('KEYWARD_PASSPHRASE');
    const bad = await keyward(['server', '--data-dir', dataDir, '--workers', 'many'], { ...FAST });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--workers must be');
  });
});
