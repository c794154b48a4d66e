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

  it('two write threads on one file (as --workers) interleave compare-and-set batches across WAL checkpoints, restarts and truncation', async () => {
    // Each write thread commits without holding the lock through its fsync and then syncs the WAL
    // through a descriptor of its own: that descriptor must stay the live WAL while other
    // connections checkpoint, restart and truncate it.
    const d = tempDir('keyward-store-');
    const file = join(d, 'keyward.db');
    const a = new SqliteStore(file, { pollIntervalMs: 0 });
    const b = new SqliteStore(file, { pollIntervalMs: 0 });
    const other = new Database(file, { timeout: 5000 });
    const value = Buffer.alloc(2000, 7); // 50 batches x 40 records x 2 KB per writer: past the 1,000-page auto-checkpoint
    const chain = async (store: SqliteStore, name: string) => {
      let head = 0;
      for (let batch = 0; batch < 50; batch++) {
        const ops = Array.from({ length: 40 }, (_, i) => ({ key: `${name}/r/${batch * 40 + i}`, value, ifVersion: 0 }));
        const versions = await writeBatch(store, [...ops, { key: `${name}/head`, value: Buffer.from(String(batch)), ifVersion: head }]);
        head = versions[versions.length - 1]!;
        if (batch % 10 === 5) other.pragma(batch % 20 === 5 ? 'wal_checkpoint(TRUNCATE)' : 'wal_checkpoint(RESTART)');
      }
      return head;
    };
    try {
      await expect(Promise.all([chain(a, 'w1'), chain(b, 'w2')])).resolves.toEqual([50, 50]);
      const fresh = new Database(file, { readonly: true });
      try {
        expect(fresh.prepare("SELECT count(*) AS n FROM kv WHERE key LIKE 'w_/r/%'").get()).toEqual({ n: 4000 });
      } finally {
        fresh.close();
      }
    } finally {
      other.close();
      await a.close();
      await b.close();
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

describe('sqlite change polling', () => {
  it("announces another handle's commits once, and this handle's own commits only when they are made", async () => {
    const d = tempDir('keyward-store-');
    const file = join(d, 'keyward.db');
    // a poller that never fires on its own within the test: the polls below are made by hand
    const store = new SqliteStore(file, { pollIntervalMs: 3_600_000 });
    const peer = new SqliteStore(file, { pollIntervalMs: 3_600_000 });
    try {
      const heard: string[][] = [];
      store.watch((c) => heard.push('keys' in c ? [...c.keys] : ['*all*']));
      await store.put('keys/t/own', Buffer.from('1'));
      await peer.put('keys/t/peer', Buffer.from('2'));
      await store.put('keys/t/own', Buffer.from('3'));
      store.pollForeignChanges();
      expect(heard).toEqual([['keys/t/own'], ['keys/t/own'], ['keys/t/peer']]);
      // a rolled-back commit of its own leaves nothing that could hide a later foreign change
      await expect(store.transaction(async (tx) => {
        await tx.put('keys/t/doomed', Buffer.from('4'));
        throw new Error('abandoned');
      })).rejects.toThrow('abandoned');
      await peer.put('keys/t/peer2', Buffer.from('5'));
      store.pollForeignChanges();
      expect(heard.slice(3)).toEqual([['keys/t/peer2']]);
    } finally {
      await peer.close();
      await store.close();
      rmSync(d, { recursive: true, force: true });
    }
  });
});
