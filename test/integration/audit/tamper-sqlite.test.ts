import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { startTestServer, tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';
import { rehash, verifyAudit } from '../../helpers/audit.js';
import { describeTampering } from './tamper-cases.js';

describeTampering('SQLite', async () => ({
  config: {},
  cleanup: async () => undefined,
  table: async (t) => {
    const db = new Database(join(t.dataDir, 'keyward.db'), { timeout: 5000 });
    return {
      get: async (key) => db.prepare<[string], { value: Buffer }>('SELECT value FROM kv WHERE key = ?').get(key)?.value,
      set: async (key, value) => { db.prepare('INSERT INTO kv (key, value, version) VALUES (?, ?, 1) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value); },
      del: async (key) => { db.prepare('DELETE FROM kv WHERE key = ?').run(key); },
      close: async () => { db.close(); },
    };
  },
}));

const pad = (n: number) => String(n).padStart(15, '0');

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
