import { CreateKeyCommand, EncryptCommand } from '@aws-sdk/client-kms';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { verifyAudit } from '../../helpers/audit.js';
import { createTestDatabase, postgresAvailable } from '../../helpers/postgres.js';
import { startTestServer, TEST_PASSPHRASE } from '../../helpers/server.js';
import { describeTampering } from './tamper-cases.js';

const available = await postgresAvailable();

if (available) {
  describeTampering('PostgreSQL', async () => {
    const db = await createTestDatabase('audit_tamper');
    return {
      config: { store: db.url },
      cleanup: () => db.drop(),
      table: async () => {
        const client = new pg.Client({ connectionString: db.url });
        await client.connect();
        return {
          get: async (key) => (await client.query<{ value: Buffer }>('SELECT value FROM keyward_kv WHERE key = $1', [key])).rows[0]?.value,
          set: async (key, value) => { await client.query('INSERT INTO keyward_kv (key, value, version) VALUES ($1, $2, 1) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]); },
          del: async (key) => { await client.query('DELETE FROM keyward_kv WHERE key = $1', [key]); },
          close: () => client.end(),
        };
      },
    };
  });
  describe('audit log with several nodes on one PostgreSQL database', () => {
    it('each node appends to its own chain concurrently; every chain verifies', async () => {
      const db = await createTestDatabase('audit_nodes');
      const a = await startTestServer({ config: { store: db.url, nodeId: 'node-a', auditCheckpointRecords: 7 } });
      const b = await startTestServer({ config: { store: db.url, nodeId: 'node-b', auditCheckpointRecords: 7 }, admin: a.admin });
      try {
        expect((await fetch(`${b.url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: TEST_PASSPHRASE }) })).status).toBe(200);
        const keyId = (await a.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
        await Promise.all([a, b].flatMap((n) => Array.from({ length: 20 }, (_, i) => n.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(`m${i}`) })))));
        const report = await verifyAudit(a.url, { token: a.admin.token });
        expect(report.firstBreak).toBeNull();
        const chains = Object.fromEntries(report.chains.map((c) => [c.chain, c]));
        expect(chains['node-a']!.records).toBeGreaterThanOrEqual(22);
        expect(chains['node-b']!.records).toBeGreaterThanOrEqual(21);
        expect(chains['node-b']!.signaturesChecked).toBe(true);
      } finally {
        await b.close();
        await a.close();
        await db.drop();
      }
    });
  });
} else {
  describe('audit log tampering in PostgreSQL', () => {
    it.skip('needs PostgreSQL on 127.0.0.1:5432 (with CI=true its absence fails instead)', () => {
      expect(available).toBe(true);
    });
  });
}
