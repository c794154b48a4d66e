import { CreateKeyCommand, DecryptCommand, EncryptCommand, UpdateKeyDescriptionCommand, type KMSClient } from '@aws-sdk/client-kms';
import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readRecordTerm } from '../../../src/format/index.js';
import { keyward, processesIn } from '../../helpers/process.js';
import { sysCall } from '../../helpers/seal.js';
import { kmsClient, startTestServer, tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';
import { pollUntil } from '../../helpers/wait.js';

interface BarrierView { active_term: number; terms: number[]; encryptions: number; rotate_after: number; rewrap: { running: boolean; scanned: number; rewrapped: number } }

/** The barrier term of every record in the store (the keyring and seal records excepted). */
function termsInStore(dataDir: string): Map<number, number> {
  const db = new Database(join(dataDir, 'keyward.db'), { readonly: true });
  try {
    const counts = new Map<number, number>();
    for (const row of db.prepare('SELECT key, value FROM kv').all() as Array<{ key: string; value: Buffer }>) {
      if (row.key === 'core/keyring' || row.key.startsWith('core/seal')) continue;
      let term: number;
      try {
        term = readRecordTerm(row.key, row.value);
      } catch {
        continue; // not a barrier record (the audit chain index is stored by the audit layer itself)
      }
      counts.set(term, (counts.get(term) ?? 0) + 1);
    }
    return counts;
  } finally {
    db.close();
  }
}

async function barrierOf(url: string): Promise<BarrierView> {
  return (await sysCall(url, 'GET', 'seal-status')).body.barrier as BarrierView;
}


async function makeData(kms: KMSClient, n: number, label: string): Promise<Array<[Uint8Array, string]>> {
  const out: Array<[Uint8Array, string]> = [];
  for (let i = 0; i < n; i++) {
    const key = (await kms.send(new CreateKeyCommand({ Description: `${label} ${i}` }))).KeyMetadata!.KeyId!;
    const text = `${label} ${i}`;
    out.push([(await kms.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from(text) }))).CiphertextBlob!, text]);
  }
  return out;
}

async function expectDecrypts(kms: KMSClient, blobs: Array<[Uint8Array, string]>): Promise<void> {
  for (const [blob, text] of blobs) expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe(text);
}

describe('barrier rotation', () => {
  it('rotate-barrier: new records use the new term at once; the re-wrap moves the rest, then the old term is dropped', async () => {
    const t = await startTestServer();
    try {
      const before = await makeData(t.kms, 5, 'before rotation');
      expect([...termsInStore(t.dataDir).keys()]).toEqual([1]);
      expect((await sysCall(t.url, 'POST', 'rotate-barrier', {})).status).toBe(403);
      const r = await sysCall(t.url, 'POST', 'rotate-barrier', {}, t.admin.token);
      expect(r).toMatchObject({ status: 200, body: { rotated: 'barrier' } });
      expect((r.body.barrier as BarrierView).active_term).toBe(2);
      const after = await makeData(t.kms, 2, 'after rotation');
      await t.server.installation.barrier.rewrapIdle();
      const b = await barrierOf(t.url);
      expect(b).toMatchObject({ active_term: 2, terms: [2] });
      expect(b.rewrap.rewrapped).toBeGreaterThan(5);
      expect([...termsInStore(t.dataDir).keys()]).toEqual([2]);
      await expectDecrypts(t.kms, [...before, ...after]);
    } finally {
      await t.close();
    }
  });

  it('rotates automatically before the encryption count reaches the limit; the count survives a restart', { timeout: 120_000 }, async () => {
    const dataDir = tempDir();
    const config = { barrierRotateAfter: 300, barrierReserveBlock: 20, unsealRatePerMinute: 0 };
    let t = await startTestServer({ dataDir, config });
    try {
      const first = await barrierOf(t.url);
      expect(first).toMatchObject({ active_term: 1, rotate_after: 300 });
      expect(first.encryptions).toBeGreaterThanOrEqual(20);
      const blobs = await makeData(t.kms, 4, 'early');
      const mid = await barrierOf(t.url);
      expect(mid.active_term).toBe(1);
      const admin = t.admin;
      await t.close();
      // the reserved count is persisted: a restart continues from it (never restarts at zero)
      t = await startTestServer({ dataDir, config, admin });
      await sysCall(t.url, 'POST', 'unseal', { passphrase: TEST_PASSPHRASE });
      const restarted = await barrierOf(t.url);
      expect(restarted.active_term === 1 ? restarted.encryptions : Infinity).toBeGreaterThan(mid.encryptions);
      // many writes, few records: description updates each re-seal one record
      const busy = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
      for (let i = 0; i < 400 && (await barrierOf(t.url)).active_term === 1; i++) {
        await t.kms.send(new UpdateKeyDescriptionCommand({ KeyId: busy, Description: `update ${i}` }));
      }
      const rotated = await pollUntil(() => barrierOf(t.url), (b) => b.active_term > 1, 'an automatic rotation');
      expect(rotated.encryptions).toBeLessThanOrEqual(300);
      await t.server.installation.barrier.rewrapIdle();
      await expectDecrypts(t.kms, blobs);
      // the re-wrap followed the automatic rotation: every record is on a term the keyring still holds
      const live = (await barrierOf(t.url)).terms;
      const counts = termsInStore(dataDir);
      expect([...counts.keys()].every((term) => live.includes(term))).toBe(true);
      expect(counts.has(1)).toBe(false);
    } finally {
      await t.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('barrier rotation with two nodes on one store', () => {
  it('the other node follows the new term, reads records written under it, and drops the old one too', async () => {
    const dataDir = tempDir();
    const a = await startTestServer({ dataDir });
    const b = await startTestServer({ dataDir, admin: a.admin, config: { unsealRatePerMinute: 0 } });
    try {
      await sysCall(b.url, 'POST', 'unseal', { passphrase: TEST_PASSPHRASE });
      const before = await makeData(b.kms, 2, 'written on b before');
      await sysCall(a.url, 'POST', 'rotate-barrier', {}, a.admin.token);
      const onA = await makeData(a.kms, 2, 'written on a under term 2');
      await pollUntil(() => barrierOf(b.url), (v) => v.active_term === 2, 'node b to follow the rotation');
      await expectDecrypts(b.kms, [...before, ...onA]);
      const onB = await makeData(b.kms, 2, 'written on b under term 2');
      await a.server.installation.barrier.rewrapIdle();
      await pollUntil(() => barrierOf(b.url), (v) => v.terms.length === 1, 'node b to drop term 1');
      expect([...termsInStore(dataDir).keys()]).toEqual([2]);
      await expectDecrypts(a.kms, [...before, ...onA, ...onB]);
      await expectDecrypts(b.kms, [...before, ...onA, ...onB]);
    } finally {
      await b.close();
      await a.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('barrier rotation survives SIGKILL in the middle of the re-wrap', () => {
  const dir = tempDir();
  const procs = processesIn(dir);

  it('resumes at the next unseal and loses nothing', { timeout: 120_000 }, async () => {
    const dataDir = join(dir, 'data');
    const env = {
      KEYWARD_UNSEAL_RATE_PER_MINUTE: '0', KEYWARD_LOG_LEVEL: 'warn', KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1', KEYWARD_PASSPHRASE: TEST_PASSPHRASE,
      KEYWARD_BARRIER_REWRAP_BATCH: '2', KEYWARD_BARRIER_REWRAP_PAUSE_MS: '30',
    };
    const init = await keyward(['init', '--data-dir', dataDir, '--json'], env);
    const creds = JSON.parse(init.stdout) as { access_key_id: string; secret_access_key: string; token: string };
    const start = async () => {
      const p = await procs.spawn(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], env);
      return p;
    };
    let server = await start();
    let kms = kmsClient(server.url, { accessKeyId: creds.access_key_id, secretAccessKey: creds.secret_access_key });
    const blobs = await makeData(kms, 15, 'survives a crash');
    const total = [...termsInStore(dataDir).values()].reduce((a, b) => a + b, 0);

    const rotate = await keyward(['rotate-barrier'], { KEYWARD_ENDPOINT: server.url, KEYWARD_TOKEN: creds.token });
    expect(rotate.code, rotate.stderr).toBe(0);
    await pollUntil(() => barrierOf(server.url), (b) => b.rewrap.rewrapped >= 6, 'some progress');
    kms.destroy();
    server.proc.kill('SIGKILL');
    await server.stop();
    const mixed = termsInStore(dataDir);
    expect(mixed.get(1)).toBeGreaterThan(0); // killed in the middle: both terms in the store
    expect(mixed.get(2)).toBeGreaterThan(0);
    expect([...mixed.values()].reduce((a, b) => a + b, 0)).toBe(total);

    server = await start();
    kms = kmsClient(server.url, { accessKeyId: creds.access_key_id, secretAccessKey: creds.secret_access_key });
    await expectDecrypts(kms, blobs); // readable while the re-wrap resumes
    const done = await pollUntil(() => barrierOf(server.url), (b) => b.terms.length === 1 && !b.rewrap.running, 'the resumed re-wrap');
    expect(done.active_term).toBe(2);
    expect([...termsInStore(dataDir).keys()]).toEqual([2]);
    await expectDecrypts(kms, blobs);
    kms.destroy();
  });
});
