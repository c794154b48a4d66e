import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateKeyCommand, DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { startTestServer, tempDir, TEST_PASSPHRASE, type TestServer } from '../../helpers/server.js';
import { forgeCheckpoint, rehash, verifyAudit } from '../../helpers/audit.js';

/**
 * Tampering directly in the SQLite file of a running server: every kind of change is reported
 * at the exact record. Each case restores what it changed, so the next starts from an intact log.
 */
const CHAIN = 'node-sqlite-tamper';
const pad = (n: number) => String(n).padStart(15, '0');
const recordKey = (seq: number) => `audit/${CHAIN}/r/${pad(seq)}`;
const checkpointKey = (seq: number) => `audit/${CHAIN}/c/${pad(seq)}`;

describe('audit log tampering in SQLite', () => {
  let t: TestServer;
  let db: Database.Database;
  const get = (key: string) => {
    const row = db.prepare<[string], { value: Buffer }>('SELECT value FROM kv WHERE key = ?').get(key);
    if (row === undefined) throw new Error(`no row ${key}`);
    return JSON.parse(row.value.toString('utf8')) as Record<string, unknown>;
  };
  const set = (key: string, value: Record<string, unknown>) =>
    db.prepare('INSERT INTO kv (key, value, version) VALUES (?, ?, 1) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, Buffer.from(JSON.stringify(value)));
  /** The chain's last record right now (the verify calls are audited too, so it moves). */
  const lastSeq = () => (JSON.parse(db.prepare<[string], { value: Buffer }>('SELECT value FROM kv WHERE key = ?').get(`audit/${CHAIN}/head`)!.value.toString('utf8')) as { seq: number }).seq;
  const del = (key: string) => db.prepare('DELETE FROM kv WHERE key = ?').run(key);
  /** Runs a tampering, checks the report, and puts every row it touched back. */
  const tampered = async (keys: string[], tamper: () => void) => {
    const saved = keys.map((k) => [k, db.prepare<[string], { value: Buffer }>('SELECT value FROM kv WHERE key = ?').get(k)?.value] as const);
    tamper();
    try {
      return await verifyAudit(t.url, { token: t.admin.token }, { Chain: CHAIN });
    } finally {
      for (const [k, v] of saved) {
        if (v === undefined) del(k);
        else db.prepare('INSERT INTO kv (key, value, version) VALUES (?, ?, 1) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(k, v);
      }
    }
  };

  beforeAll(async () => {
    t = await startTestServer({ config: { nodeId: CHAIN, auditCheckpointRecords: 10, auditCheckpointMs: 3_600_000 } });
    const key = await t.kms.send(new CreateKeyCommand({}));
    for (let i = 0; i < 12; i++) {
      const ct = await t.kms.send(new EncryptCommand({ KeyId: key.KeyMetadata!.KeyId!, Plaintext: Buffer.from(`p${i}`), EncryptionContext: { order: String(i) } }));
      await t.kms.send(new DecryptCommand({ CiphertextBlob: ct.CiphertextBlob!, EncryptionContext: { order: String(i) } }));
    }
    db = new Database(join(t.dataDir, 'keyward.db'), { timeout: 5000 });
  });
  afterAll(async () => {
    db?.close();
    await t?.close();
  });

  it('an untouched log verifies, with the checkpoint signatures checked', async () => {
    const r = await verifyAudit(t.url, { token: t.admin.token }, { Chain: CHAIN });
    expect(r.firstBreak).toBeNull();
    expect(r.ok).toBe(true);
    expect(r.chains[0]!.signaturesChecked).toBe(true);
    expect(r.chains[0]!.records).toBeGreaterThanOrEqual(26);
    expect(r.chains[0]!.lastCheckpointSeq).toBeGreaterThanOrEqual(20);
  });

  it('an edited record is reported at its sequence number', async () => {
    const r = await tampered([recordKey(5)], () => set(recordKey(5), { ...get(recordKey(5)), result: 'OK', principal: 'someone-else' }));
    expect(r.ok).toBe(false);
    expect(r.firstBreak).toMatchObject({ seq: 5, kind: 'edited' });
    expect(r.firstBreak!.message).toContain('record 5 was edited');
  });

  it('an edited record whose hash was recomputed breaks the link from the next one', async () => {
    const r = await tampered([recordKey(5)], () => set(recordKey(5), rehash({ ...get(recordKey(5)), principal: 'someone-else' })));
    expect(r.firstBreak).toMatchObject({ seq: 6, kind: 'chain' });
    expect(r.firstBreak!.message).toContain('record 6 does not chain to record 5');
  });

  it('a deleted record is reported as missing', async () => {
    const r = await tampered([recordKey(7)], () => del(recordKey(7)));
    expect(r.firstBreak).toMatchObject({ seq: 7, kind: 'deleted' });
    expect(r.firstBreak!.message).toContain('records 7..7 are missing');
  });

  it('two records swapped between positions are reported as reordered', async () => {
    const r = await tampered([recordKey(8), recordKey(9)], () => {
      const a = get(recordKey(8));
      const b = get(recordKey(9));
      set(recordKey(8), b);
      set(recordKey(9), a);
    });
    expect(r.firstBreak).toMatchObject({ seq: 8, kind: 'reordered' });
    expect(r.firstBreak!.message).toContain('is record 9');
  });

  it('a tail cut below a signed checkpoint is reported as truncated', async () => {
    const last = lastSeq();
    const keys = Array.from({ length: last - 14 }, (_, i) => recordKey(15 + i));
    const r = await tampered([...keys, `audit/${CHAIN}/head`], () => { for (const k of keys) del(k); });
    expect(r.firstBreak).toMatchObject({ seq: 15, kind: 'truncated' });
    expect(r.firstBreak!.message).toMatch(/ends at record 14, but a signed checkpoint covers records up to 20/);
  });

  it('a whole chain recomputed without the signing key is caught by the checkpoint signature', async () => {
    // The attacker rewrites record 3 and re-chains every later record: every hash and link is
    // consistent again; only the signed checkpoints (at 10 and 20) can tell.
    const last = lastSeq();
    const keys = Array.from({ length: last - 2 }, (_, i) => recordKey(3 + i));
    const r1 = await tampered(keys, () => {
      let prev = get(recordKey(2)).hash as string;
      for (let s = 3; s <= last; s++) {
        const rec = rehash({ ...get(recordKey(s)), prev, ...(s === 3 ? { principal: 'nobody' } : {}) });
        set(recordKey(s), rec);
        prev = rec.hash as string;
      }
    });
    expect(r1.firstBreak).toMatchObject({ seq: 10, kind: 'checkpoint-mismatch' });

    // ... and re-signing the checkpoints with another key is a forged checkpoint.
    const r2 = await tampered([...keys, checkpointKey(10), checkpointKey(20)], () => {
      let prev = get(recordKey(2)).hash as string;
      for (let s = 3; s <= last; s++) {
        const rec = rehash({ ...get(recordKey(s)), prev, ...(s === 3 ? { principal: 'nobody' } : {}) });
        set(recordKey(s), rec);
        prev = rec.hash as string;
        if (s === 10 || s === 20) set(checkpointKey(s), forgeCheckpoint(get(checkpointKey(s)), rec.hash as string));
      }
    });
    expect(r2.firstBreak).toMatchObject({ seq: 10, kind: 'forged-checkpoint' });
    expect(r2.firstBreak!.message).toContain('signature does not verify');
  });

  it('the log is intact again after every restoration', async () => {
    const r = await verifyAudit(t.url, { token: t.admin.token }, { Chain: CHAIN });
    expect(r.firstBreak).toBeNull();
  });
});

describe('audit log tampering in SQLite after shutdown', () => {
  it('a record appended after the final checkpoint is reported; a node resuming its chain is not', async () => {
    const dataDir = tempDir();
    const chain = 'node-sqlite-append';
    const first = await startTestServer({ dataDir, config: { nodeId: chain } });
    await first.kms.send(new CreateKeyCommand({}));
    await first.close();
    const unseal = async (url: string) => {
      const res = await fetch(`${url}/v1/sys/unseal`, { method: 'POST', body: JSON.stringify({ passphrase: TEST_PASSPHRASE }) });
      expect(res.status).toBe(200);
    };
    try {
      // The node comes back with the same id: it continues its chain after a resume record.
      const again = await startTestServer({ dataDir, init: false, admin: first.admin, config: { nodeId: chain } });
      await unseal(again.url);
      await again.kms.send(new CreateKeyCommand({}));
      await again.close();

      const db = new Database(join(dataDir, 'keyward.db'), { timeout: 5000 });
      const head = JSON.parse(db.prepare<[string], { value: Buffer }>('SELECT value FROM kv WHERE key = ?').get(`audit/${chain}/head`)!.value.toString('utf8')) as { seq: number; hash: string };
      const last = JSON.parse(db.prepare<[string], { value: Buffer }>('SELECT value FROM kv WHERE key = ?').get(`audit/${chain}/r/${pad(head.seq)}`)!.value.toString('utf8')) as Record<string, unknown>;
      const intactCheck = await startTestServer({ dataDir, init: false, admin: first.admin, config: { nodeId: 'node-checker' } });
      try {
        await unseal(intactCheck.url);
        const intact = await verifyAudit(intactCheck.url, { token: first.admin.token }, { Chain: chain });
        expect(intact.firstBreak).toBeNull();

        const forged = rehash({ ...last, seq: head.seq + 1, prev: last.hash, op: 'Decrypt', requestId: 'forged' });
        db.prepare('INSERT INTO kv (key, value, version) VALUES (?, ?, 1)').run(`audit/${chain}/r/${pad(head.seq + 1)}`, Buffer.from(JSON.stringify(forged)));
        const r = await verifyAudit(intactCheck.url, { token: first.admin.token }, { Chain: chain });
        expect(r.firstBreak).toMatchObject({ seq: head.seq + 1, kind: 'appended' });
        expect(r.firstBreak!.message).toContain('after the final checkpoint');
      } finally {
        db.close();
        await intactCheck.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
