import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describeRollback } from './rollback-cases.js';

describeRollback('SQLite', async () => ({
  config: {},
  cleanup: async () => undefined,
  rows: async (dataDir) => {
    const db = new Database(join(dataDir, 'keyward.db'), { timeout: 10_000 });
    return {
      all: async () => db.prepare<[], { key: string; value: Buffer; version: number }>('SELECT key, value, version FROM kv').all(),
      set: async (key, value, version) => { db.prepare('INSERT INTO kv (key, value, version) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, version = excluded.version').run(key, value, version); },
      del: async (key) => { db.prepare('DELETE FROM kv WHERE key = ?').run(key); },
      close: async () => { db.close(); },
    };
  },
}));
