import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SqliteGroupWriter, SqliteStore, SqliteWriteWorker, StoreConflictError, writeBatch, type BatchWrite } from '../../../src/storage/index.js';
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
});

type Outcome = number[] | Error;
const committers: Record<string, (file: string) => { commit(batches: BatchWrite[][]): Promise<Outcome[]>; close(): Promise<void> }> = {
  'the write thread': (file) => {
    const w = new SqliteWriteWorker(file, true);
    return {
      commit: (batches) => Promise.all(w.writeGroup(batches).map((p) => p.then((v): Outcome => v, (e: unknown): Outcome => e as Error))),
      close: () => w.close(),
    };
  },
  'the cluster primary\'s writer': (file) => {
    const w = new SqliteGroupWriter(file, true);
    return { commit: async (batches) => w.commit(batches), close: async () => w.close() };
  },
};

describe.each(Object.keys(committers))('sqlite group commit (%s)', (name) => {
  it('commits a group in one transaction; a batch whose compare-and-set fails is refused alone and leaves nothing', async () => {
    const d = tempDir('keyward-store-');
    const file = join(d, 'keyward.db');
    const store = new SqliteStore(file, { pollIntervalMs: 0 });
    const writer = committers[name]!(file);
    try {
      await writeBatch(store, [{ key: 'a/head', value: Buffer.from('0') }, { key: 'b/head', value: Buffer.from('0') }]);
      const [a, b, c] = await writer.commit([
        [{ key: 'a/r/1', value: Buffer.from('a1'), ifVersion: 0 }, { key: 'a/head', value: Buffer.from('1'), ifVersion: 1 }],
        // a stale head: this batch alone is refused
        [{ key: 'b/r/1', value: Buffer.from('b1'), ifVersion: 0 }, { key: 'b/head', value: Buffer.from('1'), ifVersion: 7 }],
        // sees the first batch's write in the same transaction
        [{ key: 'a/r/2', value: Buffer.from('a2'), ifVersion: 0 }, { key: 'a/head', value: Buffer.from('2'), ifVersion: 2 }],
      ]);
      expect(a).toEqual([1, 2]);
      expect(b).toBeInstanceOf(StoreConflictError);
      expect((b as StoreConflictError).key).toBe('b/head');
      expect(c).toEqual([1, 3]);
      expect((await store.get('a/head'))?.value.toString()).toBe('2');
      expect((await store.get('a/r/2'))?.value.toString()).toBe('a2');
      expect(await store.get('b/r/1')).toBeUndefined();
      expect((await store.get('b/head'))?.version).toBe(1);
    } finally {
      await writer.close();
      await store.close();
      rmSync(d, { recursive: true, force: true });
    }
  });
});
