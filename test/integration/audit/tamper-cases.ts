import { CreateKeyCommand, DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../../src/config/index.js';
import { startTestServer, tempDir, TEST_PASSPHRASE, type TestServer } from '../../helpers/server.js';
import { forgeCheckpoint, rehash, verifyAudit } from '../../helpers/audit.js';

/** Raw access to the store's key-value table, as a database administrator has it. */
export interface RawTable {
  get(key: string): Promise<Buffer | undefined>;
  set(key: string, value: Buffer): Promise<void>;
  del(key: string): Promise<void>;
  close(): Promise<void>;
}

const pad = (n: number) => String(n).padStart(15, '0');

/**
 * The same tamperings on any store: each is done directly in the database under a running server,
 * must be reported at the exact record, and is undone before the next.
 */
export interface TamperBackend {
  readonly config: ConfigInput;
  /** The raw table of the store the servers on this data directory use. */
  table(dataDir: string): Promise<RawTable>;
  cleanup(): Promise<void>;
}

export function describeTampering(label: string, open: () => Promise<TamperBackend>): void {
  describe(`audit log tampering in ${label}`, () => {
    const chain = `node-tamper-${label.toLowerCase().replace(/[^a-z]/g, '')}`;
    const recordKey = (seq: number) => `audit/${chain}/r/${pad(seq)}`;
    const checkpointKey = (seq: number) => `audit/${chain}/c/${pad(seq)}`;
    let t: TestServer;
    let table: RawTable;
    let cleanup: () => Promise<void> = async () => undefined;
    const json = async (key: string) => {
      const v = await table.get(key);
      if (v === undefined) throw new Error(`no row ${key}`);
      return JSON.parse(v.toString('utf8')) as Record<string, unknown>;
    };
    const set = (key: string, value: Record<string, unknown>) => table.set(key, Buffer.from(JSON.stringify(value)));
    /** The chain's last record right now (the verify calls are audited too, so it moves). */
    const lastSeq = async () => (await json(`audit/${chain}/head`)).seq as number;
    const verify = () => verifyAudit(t.url, { token: t.admin.token }, { Chain: chain });
    const tampered = async (keys: string[], tamper: () => Promise<void>) => {
      const saved: Array<[string, Buffer | undefined]> = [];
      for (const k of keys) saved.push([k, await table.get(k)]);
      await tamper();
      try {
        return await verify();
      } finally {
        for (const [k, v] of saved) {
          if (v === undefined) await table.del(k);
          else await table.set(k, v);
        }
      }
    };

    beforeAll(async () => {
      const o = await open();
      cleanup = o.cleanup;
      t = await startTestServer({ config: { ...o.config, nodeId: chain, auditCheckpointRecords: 10, auditCheckpointMs: 3_600_000 } });
      table = await o.table(t.dataDir);
      const key = await t.kms.send(new CreateKeyCommand({}));
      for (let i = 0; i < 12; i++) {
        const ct = await t.kms.send(new EncryptCommand({ KeyId: key.KeyMetadata!.KeyId!, Plaintext: Buffer.from(`p${i}`), EncryptionContext: { order: String(i) } }));
        await t.kms.send(new DecryptCommand({ CiphertextBlob: ct.CiphertextBlob!, EncryptionContext: { order: String(i) } }));
      }
    });
    afterAll(async () => {
      await table?.close();
      await t?.close();
      await cleanup();
    });

    it('an untouched log verifies, with the checkpoint signatures checked', async () => {
      const r = await verify();
      expect(r.firstBreak).toBeNull();
      expect(r.ok).toBe(true);
      expect(r.chains[0]!.signaturesChecked).toBe(true);
      expect(r.chains[0]!.records).toBeGreaterThanOrEqual(26);
      expect(r.chains[0]!.lastCheckpointSeq).toBeGreaterThanOrEqual(20);
    });

    it('an edited record is reported at its sequence number', async () => {
      const r = await tampered([recordKey(5)], async () => set(recordKey(5), { ...await json(recordKey(5)), principal: 'someone-else' }));
      expect(r.ok).toBe(false);
      expect(r.firstBreak).toMatchObject({ seq: 5, kind: 'edited' });
      expect(r.firstBreak!.message).toContain('record 5 was edited');
    });

    it('an edited record whose hash was recomputed breaks the link from the next one', async () => {
      const r = await tampered([recordKey(5)], async () => set(recordKey(5), rehash({ ...await json(recordKey(5)), principal: 'someone-else' })));
      expect(r.firstBreak).toMatchObject({ seq: 6, kind: 'chain' });
      expect(r.firstBreak!.message).toContain('record 6 does not chain to record 5');
    });

    it('a deleted record is reported as missing', async () => {
      const r = await tampered([recordKey(7)], () => table.del(recordKey(7)));
      expect(r.firstBreak).toMatchObject({ seq: 7, kind: 'deleted' });
      expect(r.firstBreak!.message).toContain('records 7..7 are missing');
    });

    it('two records swapped between positions are reported as reordered', async () => {
      const r = await tampered([recordKey(8), recordKey(9)], async () => {
        const a = await json(recordKey(8));
        const b = await json(recordKey(9));
        await set(recordKey(8), b);
        await set(recordKey(9), a);
      });
      expect(r.firstBreak).toMatchObject({ seq: 8, kind: 'reordered' });
      expect(r.firstBreak!.message).toContain('is record 9');
    });

    it('a record appended in the middle of the sequence space is reported', async () => {
      const last = await lastSeq();
      // an extra record far after the head, with a self-consistent hash
      const forged = rehash({ ...await json(recordKey(last)), seq: last + 5, op: 'Decrypt', requestId: 'forged' });
      const r = await tampered([recordKey(last + 5)], () => set(recordKey(last + 5), forged));
      expect(r.firstBreak).toMatchObject({ seq: last + 1, kind: 'deleted' });
    });

    it('a tail cut below a signed checkpoint is reported as truncated', async () => {
      const last = await lastSeq();
      const keys = Array.from({ length: last - 14 }, (_, i) => recordKey(15 + i));
      const r = await tampered(keys, async () => { for (const k of keys) await table.del(k); });
      expect(r.firstBreak).toMatchObject({ seq: 15, kind: 'truncated' });
      expect(r.firstBreak!.message).toMatch(/ends at record 14, but a signed checkpoint covers records up to 20/);
    });

    it('a whole chain recomputed without the signing key is caught by the checkpoint signature', async () => {
      // The attacker rewrites record 3 and re-chains every later record: every hash and link is
      // consistent again; only the signed checkpoints (at 10 and 20) can tell.
      const last = await lastSeq();
      const keys = Array.from({ length: last - 2 }, (_, i) => recordKey(3 + i));
      const rewrite = async (forgeCheckpoints: boolean) => {
        let prev = (await json(recordKey(2))).hash as string;
        for (let s = 3; s <= last; s++) {
          const rec = rehash({ ...await json(recordKey(s)), prev, ...(s === 3 ? { principal: 'nobody' } : {}) });
          await set(recordKey(s), rec);
          prev = rec.hash as string;
          if (forgeCheckpoints && (s === 10 || s === 20)) await set(checkpointKey(s), forgeCheckpoint(await json(checkpointKey(s)), rec.hash as string));
        }
      };
      const r1 = await tampered(keys, () => rewrite(false));
      expect(r1.firstBreak).toMatchObject({ seq: 10, kind: 'checkpoint-mismatch' });
      // ... and re-signing the checkpoints with another key is a forged checkpoint.
      const r2 = await tampered([...keys, checkpointKey(10), checkpointKey(20)], () => rewrite(true));
      expect(r2.firstBreak).toMatchObject({ seq: 10, kind: 'forged-checkpoint' });
      expect(r2.firstBreak!.message).toContain('signature does not verify');
    });

    it('the log is intact again after every restoration', async () => {
      expect((await verify()).firstBreak).toBeNull();
    });
  });

  describe(`audit log tampering in ${label} after shutdown`, () => {
    it('a record appended after the final checkpoint is reported; a node resuming its chain is not', async () => {
      const o = await open();
      const dataDir = tempDir();
      const chain = `node-append-${label.toLowerCase().replace(/[^a-z]/g, '')}`;
      const unseal = async (url: string) => {
        const res = await fetch(`${url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: TEST_PASSPHRASE }) });
        expect(res.status).toBe(200);
      };
      try {
        const first = await startTestServer({ dataDir, config: { ...o.config, nodeId: chain } });
        await first.kms.send(new CreateKeyCommand({}));
        await first.close();
        // The node comes back with the same id: it continues its chain after a resume record.
        const again = await startTestServer({ dataDir, init: false, admin: first.admin, config: { ...o.config, nodeId: chain } });
        await unseal(again.url);
        await again.kms.send(new CreateKeyCommand({}));
        await again.close();

        const table = await o.table(dataDir);
        const checker = await startTestServer({ dataDir, init: false, admin: first.admin, config: { ...o.config, nodeId: 'node-checker' } });
        try {
          await unseal(checker.url);
          const verify = () => verifyAudit(checker.url, { token: first.admin.token }, { Chain: chain });
          expect((await verify()).firstBreak).toBeNull();
          const head = JSON.parse((await table.get(`audit/${chain}/head`))!.toString('utf8')) as { seq: number };
          const last = JSON.parse((await table.get(`audit/${chain}/r/${pad(head.seq)}`))!.toString('utf8')) as Record<string, unknown>;
          const forged = rehash({ ...last, seq: head.seq + 1, prev: last.hash, op: 'Decrypt', requestId: 'forged' });
          await table.set(`audit/${chain}/r/${pad(head.seq + 1)}`, Buffer.from(JSON.stringify(forged)));
          const r = await verify();
          expect(r.firstBreak).toMatchObject({ seq: head.seq + 1, kind: 'appended' });
          expect(r.firstBreak!.message).toContain('after the final checkpoint');
        } finally {
          await table.close();
          await checker.close();
        }
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
        await o.cleanup();
      }
    });
  });
}
