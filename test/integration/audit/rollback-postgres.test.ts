import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createTestDatabase, postgresAvailable } from '../../helpers/postgres.js';
import { describeRollback } from './rollback-cases.js';

const available = await postgresAvailable();

if (available) {
  // the database administrator is the attacker: the anchor is in each node's data directory, out of their reach
  describeRollback('PostgreSQL, the DBA as attacker', async () => {
    const db = await createTestDatabase('audit_rollback');
    return {
      config: { store: db.url },
      storeFlag: db.url,
      cleanup: () => db.drop(),
      rows: async () => {
        const client = new pg.Client({ connectionString: db.url });
        await client.connect();
        return {
          all: async () => (await client.query<{ key: string; value: Buffer; version: string }>('SELECT key, value, version FROM keyward_kv')).rows.map((r) => ({ key: r.key, value: r.value, version: Number(r.version) })),
          set: async (key, value, version) => { await client.query('INSERT INTO keyward_kv (key, value, version) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version', [key, value, version]); },
          del: async (key) => { await client.query('DELETE FROM keyward_kv WHERE key = $1', [key]); },
          close: () => client.end(),
        };
      },
    };
  });
} else {
  describe('rollback of the store (PostgreSQL)', () => {
    it.skip('needs PostgreSQL on 127.0.0.1:5432 (with CI=true its absence fails instead)', () => {
      expect(available).toBe(true);
    });
  });
}
