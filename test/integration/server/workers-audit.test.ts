import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CreateKeyCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAudit } from '../../helpers/audit.js';
import { errorOf } from '../../helpers/errors.js';
import { keyward, spawnKeyward, type KeywardProcess } from '../../helpers/process.js';
import { kmsClient, tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';
import { eventually, pollUntil } from '../../helpers/wait.js';

/**
 * `--workers 2` on SQLite with the audit log on: each worker keeps its own chain in the shared
 * file and answers a request only once its record is durable. Fail closed on every worker, and a
 * worker's crash or the primary's crash keeps every answered request's record (read from the
 * SQLite file itself). Any change to how workers write their batches (issue 18: one writer for
 * the node) must keep these.
 */

const FAST = { KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1', KEYWARD_LOG_LEVEL: 'warn' };

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('keyward server --workers 2: the audit log fails closed and loses nothing answered', () => {
  const dir = tempDir();
  const dataDir = join(dir, 'data');
  const db = join(dataDir, 'keyward.db');
  let server: KeywardProcess;
  let creds: { access_key_id: string; secret_access_key: string; token: string };
  let keyId: string;
  const clients: KMSClient[] = [];
  const client = (): KMSClient => {
    const c = kmsClient(server.url, { accessKeyId: creds.access_key_id, secretAccessKey: creds.secret_access_key });
    clients.push(c);
    return c;
  };
  const start = async () => {
    server = await spawnKeyward(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--workers', '2'], { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE }, 60_000);
  };

  /** Every audit record's request id in the store, read from the SQLite file itself. */
  const recordedRequestIds = (): Set<string> => {
    const conn = new Database(db, { readonly: true });
    try {
      const rows = conn.prepare<[], { key: string; value: Buffer }>("SELECT key, value FROM kv WHERE key >= 'audit/' AND key < 'audit0'").all();
      const ids = new Set<string>();
      for (const r of rows) {
        if (!r.key.includes('/r/')) continue;
        ids.add((JSON.parse(r.value.toString('utf8')) as { requestId: string }).requestId);
      }
      return ids;
    } finally {
      conn.close();
    }
  };

  /**
   * Encrypt loops on `connections` clients (the primary spreads their connections over both
   * workers) until `stop` resolves; answers the request ids of the requests answered OK.
   */
  const load = async (connections: number, stop: Promise<void>): Promise<{ acknowledged: string[]; failed: number }> => {
    let stopped = false;
    void stop.then(() => { stopped = true; });
    const acknowledged: string[] = [];
    let failed = 0;
    await Promise.all(Array.from({ length: connections }, async (_, i) => {
      const c = client();
      while (!stopped) {
        try {
          const res = await c.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(`m${i}`) }));
          acknowledged.push(res.$metadata.requestId!);
        } catch {
          failed += 1;
          if (failed > 10_000) return;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    }));
    return { acknowledged, failed };
  };

  beforeAll(async () => {
    const init = await keyward(['init', '--data-dir', dataDir, '--json'], { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    expect(init.code, init.stderr).toBe(0);
    creds = JSON.parse(init.stdout) as typeof creds;
    await start();
    keyId = (await client().send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  }, 90_000);
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every worker refuses requests while the store is read-only (fail closed), and resumes after', async () => {
    const files = () => ['keyward.db', 'keyward.db-wal'].map((f) => join(dataDir, f)).filter((f) => existsSync(f));
    const readOnly = (on: boolean) => {
      for (const f of files()) execFileSync('chattr', [on ? '+i' : '-i', f]);
    };
    readOnly(true);
    try {
      // fresh clients: new connections, handed to the workers in turn, so both are asked
      for (let i = 0; i < 4; i++) {
        const e = await errorOf(client().send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('during') })));
        expect(e.name).toBe('AuditUnavailableException');
      }
    } finally {
      readOnly(false);
    }
    const answered: string[] = [];
    for (let i = 0; i < 4; i++) {
      answered.push((await client().send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('after') }))).$metadata.requestId!);
    }
    const ids = recordedRequestIds();
    expect(answered.filter((id) => !ids.has(id))).toEqual([]);
    const report = await verifyAudit(server.url, { token: creds.token });
    expect(report.firstBreak).toBeNull();
  }, 60_000);

  it('under load, every answered request of either worker has its record, and each worker chain verifies', async () => {
    let finish!: () => void;
    const done = new Promise<void>((r) => { finish = r; });
    const running = load(8, done);
    const before = recordedRequestIds().size;
    await pollUntil(async () => recordedRequestIds().size, (n) => n >= before + 200, '200 more audit records');
    finish();
    const { acknowledged } = await running;
    const ids = recordedRequestIds();
    expect(acknowledged.filter((id) => !ids.has(id))).toEqual([]);
    const report = await verifyAudit(server.url, { token: creds.token });
    expect(report.ok, JSON.stringify(report.firstBreak)).toBe(true);
    // both workers wrote under load: two worker chains (`<node>-w<n>`) have records
    const workerChains = report.chains.filter((c) => /-w\d+$/.test(c.chain) && c.records > 0);
    expect(workerChains.length).toBeGreaterThanOrEqual(2);
  }, 90_000);

  it('a worker killed under load loses no record of a request it answered', async () => {
    let finish!: () => void;
    const done = new Promise<void>((r) => { finish = r; });
    const running = load(8, done);
    const before = recordedRequestIds().size;
    await pollUntil(async () => recordedRequestIds().size, (n) => n >= before + 100, '100 more audit records');
    const [victim] = childPids(server.proc.pid!);
    process.kill(victim!, 'SIGKILL');
    // the primary starts a replacement, and requests are answered again
    await pollUntil(async () => childPids(server.proc.pid!), (p) => p.length === 2 && !p.includes(victim!), 'a replacement worker', 30_000);
    const after = recordedRequestIds().size;
    await pollUntil(async () => recordedRequestIds().size, (n) => n >= after + 100, '100 more audit records after the crash');
    finish();
    const { acknowledged } = await running;
    const ids = recordedRequestIds();
    expect(acknowledged.filter((id) => !ids.has(id))).toEqual([]);
    const report = await verifyAudit(server.url, { token: creds.token });
    expect(report.ok, JSON.stringify(report.firstBreak)).toBe(true);
  }, 120_000);

  it('the primary killed under load: the workers stop, no answered request lacks its record, and the log verifies after a restart', async () => {
    let finish!: () => void;
    const done = new Promise<void>((r) => { finish = r; });
    const running = load(8, done);
    const before = recordedRequestIds().size;
    await pollUntil(async () => recordedRequestIds().size, (n) => n >= before + 100, '100 more audit records');
    const workers = childPids(server.proc.pid!);
    expect(workers).toHaveLength(2);
    await server.stop('SIGKILL');
    // nobody writes their audit records any more: the workers stop themselves
    expect(await eventually(() => workers.every((p) => !alive(p)), 30_000, 100)).toBe(true);
    finish();
    const { acknowledged } = await running;
    const ids = recordedRequestIds();
    expect(acknowledged.length).toBeGreaterThan(0);
    expect(acknowledged.filter((id) => !ids.has(id))).toEqual([]);

    await start();
    const answered = (await client().send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('again') }))).$metadata.requestId!;
    expect(recordedRequestIds().has(answered)).toBe(true);
    const report = await verifyAudit(server.url, { token: creds.token });
    expect(report.ok, JSON.stringify(report.firstBreak)).toBe(true);
  }, 150_000);
});
