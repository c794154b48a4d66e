import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describeTampering } from './tamper-cases.js';

describeTampering('SQLite', async () => ({
  config: {},
  cleanup: async () => undefined,
  table: async (dataDir) => {
    const db = new Database(join(dataDir, 'keyward.db'), { timeout: 5000 });
    return {
      get: async (key) => db.prepare<[string], { value: Buffer }>('SELECT value FROM kv WHERE key = ?').get(key)?.value,
      set: async (key, value) => { db.prepare('INSERT INTO kv (key, value, version) VALUES (?, ?, 1) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value); },
      del: async (key) => { db.prepare('DELETE FROM kv WHERE key = ?').run(key); },
      close: async () => { db.close(); },
    };
  },
}));
