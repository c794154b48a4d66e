import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SqliteStore, writeBatch } from '../../../src/storage/index.js';
import { tempDir } from '../../helpers/server.js';
import { storeConformance } from './conformance.js';

let dir: string | undefined;
let path = '';

storeConformance('sqlite', {
  async open() {
    dir = tempDir('keyward-store-');
    path = join(dir, 'keyward.db');
    return new SqliteStore(path, { pollIntervalMs: 50 });
  },
  async openPeer() {
    return new SqliteStore(path, { pollIntervalMs: 50 });
  },
  async cleanup() {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  },
});

describe('sqlite batchWrite (write worker) and another writer', () => {
  it('waits while another connection holds the write lock, then commits (busy is retried, not an error)', async () => {
    const d = tempDir('keyward-store-');
    const file = join(d, 'keyward.db');
    const store = new SqliteStore(file, { pollIntervalMs: 50 });
    const other = new Database(file, { timeout: 5000 });
    try {
      await writeBatch(store, [{ key: 'warm', value: Buffer.from('1') }]);
      other.exec('BEGIN IMMEDIATE');
      other.prepare('INSERT INTO kv (key, value, version) VALUES (?, ?, 1)').run('held', Buffer.from('x'));
      const pending = writeBatch(store, [{ key: 'after', value: Buffer.from('2') }]);
      await new Promise((r) => setTimeout(r, 300)); // let the batch meet the held lock
      other.exec('COMMIT');
      await expect(pending).resolves.toEqual([1]);
      expect((await store.get('after'))?.value.toString()).toBe('2');
      expect((await store.get('held'))?.value.toString()).toBe('x');
    } finally {
      other.close();
      await store.close();
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('a write thread that first opened while the file could not be written recovers once it can (no restart)', async () => {
    const d = tempDir('keyward-store-');
    const file = join(d, 'keyward.db');
    const store = new SqliteStore(file, { pollIntervalMs: 0 });
    // immutable (chattr +i), as a volume remounted read-only: SQLite opens such a file read-only
    const files = () => [file, `${file}-wal`].filter((f) => existsSync(f));
    const immutable = (on: boolean) => {
      for (const f of files()) execFileSync('chattr', [on ? '+i' : '-i', f]);
    };
    try {
      await store.put('warm', Buffer.from('1'));
      immutable(true);
      try {
        await expect(writeBatch(store, [{ key: 'during', value: Buffer.from('x') }])).rejects.toThrow(/SQLite/);
      } finally {
        immutable(false);
      }
      await expect(writeBatch(store, [{ key: 'after', value: Buffer.from('y') }])).resolves.toEqual([1]);
      expect((await store.get('after'))?.value.toString()).toBe('y');
      expect(await store.get('during')).toBeUndefined();
    } finally {
      immutable(false);
      await store.close();
      rmSync(d, { recursive: true, force: true });
    }
  });
});
