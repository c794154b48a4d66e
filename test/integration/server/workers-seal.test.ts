import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyward, spawnKeyward, type KeywardProcess } from '../../helpers/process.js';
import { tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';
import { pollUntil } from '../../helpers/wait.js';

/**
 * Issue 21.2: the workers of `keyward server --workers 2` are one node. An operator's seal on any
 * worker seals every worker before it is answered, a replacement worker of a sealed node stays
 * sealed, an unseal on one worker unseals all, and rekey, rotate-root and rotate-barrier leave
 * every worker (and every replacement) able to serve.
 */
const FAST = { KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1', KEYWARD_LOG_LEVEL: 'warn' };
const NEW_PASSPHRASE = 'a brand new passphrase for the node';

function childPids(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

describe('keyward server --workers 2: seal, unseal, rekey and rotations are node-wide', () => {
  const dir = tempDir();
  const dataDir = join(dir, 'data');
  let server: KeywardProcess;
  let token: string;
  let keyId: string;

  /** One call on a fresh connection (the primary hands each connection to the next worker). */
  async function call(target: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${server.url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target, authorization: `Bearer ${token}`, connection: 'close' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  /** A /v1/sys call as the system admin, on a fresh connection. */
  async function sys(path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${server.url}/v1/sys/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, connection: 'close' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  /** Health from `n` fresh connections: the answering worker's name (`<node id>-w<n>`) -> what it answered. */
  async function healthByNode(n = 8): Promise<Map<string, { status: number; sealed: boolean }>> {
    const out = new Map<string, { status: number; sealed: boolean }>();
    for (let i = 0; i < n; i++) {
      const res = await fetch(`${server.url}/v1/sys/health`, { headers: { connection: 'close' } });
      const body = (await res.json()) as { node: string; sealed: boolean };
      out.set(body.node, { status: res.status, sealed: body.sealed });
    }
    return out;
  }

  async function sealStatuses(n = 6): Promise<boolean[]> {
    const out: boolean[] = [];
    for (let i = 0; i < n; i++) {
      const res = await fetch(`${server.url}/v1/sys/seal-status`, { headers: { connection: 'close' } });
      out.push(((await res.json()) as { sealed: boolean }).sealed);
    }
    return out;
  }

  /** Every request of `n`, on fresh connections, decrypts (true) or is refused as sealed (false). */
  async function decrypts(blob: string, n = 6): Promise<Array<boolean | string>> {
    const out: Array<boolean | string> = [];
    for (let i = 0; i < n; i++) {
      const r = await call('TrentService.Decrypt', { CiphertextBlob: blob });
      out.push(r.status === 200 ? true : r.body.__type === 'SealedException' ? false : String(r.body.__type));
    }
    return out;
  }

  /**
   * Kills one worker and waits for its replacement; answers the names its chain cannot have (the
   * workers' names before: a replacement answers health under a new `<node id>-w<n>`).
   */
  async function replaceOneWorker(): Promise<ReadonlySet<string>> {
    const known = new Set((await healthByNode()).keys());
    const before = childPids(server.proc.pid!);
    process.kill(before[0]!, 'SIGKILL');
    await pollUntil(async () => childPids(server.proc.pid!), (p) => p.length === 2 && !p.includes(before[0]!), 'a replacement worker', 30_000);
    return known;
  }

  /** Health as answered by the replacement worker (the one whose name is not among `known`; polled until it answers at all). */
  async function healthOf(known: ReadonlySet<string>): Promise<{ status: number; sealed: boolean }> {
    const nodes = await pollUntil(() => healthByNode(4), (m) => [...m.keys()].some((k) => !known.has(k)), 'the replacement worker answering health', 30_000);
    return [...nodes.entries()].find(([k]) => !known.has(k))![1];
  }

  beforeAll(async () => {
    const init = await keyward(['init', '--data-dir', dataDir, '--json'], { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    expect(init.code, init.stderr).toBe(0);
    token = (JSON.parse(init.stdout) as { token: string }).token;
    server = await spawnKeyward(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--workers', '2'], { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE }, 60_000);
    const created = await call('TrentService.CreateKey', {});
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    keyId = (created.body.KeyMetadata as { KeyId: string }).KeyId;
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an operator seal on one worker seals every worker before it answers; a replacement stays sealed', async () => {
    const enc = await call('TrentService.Encrypt', { KeyId: keyId, Plaintext: Buffer.from('before').toString('base64') });
    const blob = enc.body.CiphertextBlob as string;
    expect(await decrypts(blob)).toEqual([true, true, true, true, true, true]);

    const sealed = await sys('seal', {});
    expect(sealed.status, JSON.stringify(sealed.body)).toBe(200);
    // no polling: by the time the seal is answered, no worker decrypts any more
    expect(await decrypts(blob)).toEqual([false, false, false, false, false, false]);
    const health = await healthByNode();
    expect(health.size).toBe(2);
    for (const h of health.values()) expect(h).toEqual({ status: 503, sealed: true });
    expect(await sealStatuses()).toEqual([true, true, true, true, true, true]);

    // the primary forgot the passphrase: a worker started now stays sealed
    const replacement = await replaceOneWorker();
    expect(await healthOf(replacement)).toEqual({ status: 503, sealed: true });
    expect(await decrypts(blob)).toEqual([false, false, false, false, false, false]);
  }, 120_000);

  it('an unseal on one worker unseals the node, the replacement included', async () => {
    const r = await fetch(`${server.url}/v1/sys/unseal`, {
      method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' }, body: JSON.stringify({ passphrase: TEST_PASSPHRASE }),
    });
    expect(r.status).toBe(200);
    const health = await healthByNode();
    expect(health.size).toBe(2);
    for (const h of health.values()) expect(h).toEqual({ status: 200, sealed: false });
    expect(await sealStatuses()).toEqual([false, false, false, false, false, false]);
  }, 60_000);

  it('after a rekey through one worker, a replacement worker unseals with the new passphrase', async () => {
    const r = await sys('rekey', { passphrase: TEST_PASSPHRASE, new_seal: 'passphrase', new_passphrase: NEW_PASSPHRASE });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const replacement = await replaceOneWorker();
    expect(await healthOf(replacement)).toEqual({ status: 200, sealed: false });
    const enc = await call('TrentService.Encrypt', { KeyId: keyId, Plaintext: Buffer.from('after rekey').toString('base64') });
    expect(await decrypts(enc.body.CiphertextBlob as string)).toEqual([true, true, true, true, true, true]);
  }, 120_000);

  it('after rotate-root and rotate-barrier through one worker, every worker and a replacement serve', async () => {
    const root = await sys('rotate-root', { passphrase: NEW_PASSPHRASE, i_understand_escrow_is_invalidated: true });
    expect(root.status, JSON.stringify(root.body)).toBe(200);
    const barrier = await sys('rotate-barrier', {});
    expect(barrier.status, JSON.stringify(barrier.body)).toBe(200);
    const enc = await call('TrentService.Encrypt', { KeyId: keyId, Plaintext: Buffer.from('after rotations').toString('base64') });
    expect(enc.status, JSON.stringify(enc.body)).toBe(200);
    // the other worker follows the new root key and barrier term (store polling): every answer decrypts
    await pollUntil(() => decrypts(enc.body.CiphertextBlob as string), (d) => d.every((x) => x === true), 'both workers decrypting after the rotations', 30_000);
    for (const h of (await healthByNode()).values()) expect(h).toEqual({ status: 200, sealed: false });
    const replacement = await replaceOneWorker();
    expect(await healthOf(replacement)).toEqual({ status: 200, sealed: false });
    expect(await decrypts(enc.body.CiphertextBlob as string)).toEqual([true, true, true, true, true, true]);
    // and a seal after all that is still node-wide
    expect((await sys('seal', {})).status).toBe(200);
    expect(await decrypts(enc.body.CiphertextBlob as string, 4)).toEqual([false, false, false, false]);
  }, 120_000);
});
