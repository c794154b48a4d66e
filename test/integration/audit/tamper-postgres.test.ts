import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createTestDatabase, postgresAvailable } from '../../helpers/postgres.js';
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
} else {
  describe('audit log tampering in PostgreSQL', () => {
    it.skip('needs PostgreSQL on 127.0.0.1:5432 (with CI=true its absence fails instead)', () => {
      expect(available).toBe(true);
    });
  });
}
