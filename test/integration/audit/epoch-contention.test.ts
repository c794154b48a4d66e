import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../src/audit/index.js';
import { PostgresStore, SqliteStore, type Store } from '../../../src/storage/index.js';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../../helpers/postgres.js';

const available = await postgresAvailable();

const stores: Array<{ name: string; available: boolean; open: () => Promise<() => Store> }> = [
  { name: 'PostgreSQL', available, open: async () => { db = await createTestDatabase('epoch'); return () => new PostgresStore(db!.url); } },
  { name: 'SQLite (one file, a handle per node)', available: true, open: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kw-epoch-db-'));
    closers.unshift(async () => rmSync(dir, { recursive: true, force: true }));
    return () => new SqliteStore(join(dir, 'keyward.db'));
  } },
];
let db: TestDatabase | undefined;
const closers: Array<() => Promise<void>> = [];

describe.each(stores)('audit log on $name: many nodes changing state at once', ({ available: runs, open }) => {
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
    await db?.drop();
    db = undefined;
  });

  it.runIf(runs)('every state change is recorded while six nodes advance the one store epoch concurrently (conflicts are retried, none refused)', async () => {
    const openStore = await open();
    const exportDir = mkdtempSync(join(tmpdir(), 'kw-epoch-'));
    closers.push(async () => rmSync(exportDir, { recursive: true, force: true }));
    const auditKey = randomBytes(32);
    const nodes = Array.from({ length: 6 }, (_, i) => {
      const store = openStore();
      const log = new AuditLog(store, {
        enabled: true, chain: `node-${i}`, node: `node-${i}`, clock: () => new Date(),
        checkpointEveryRecords: 1000, checkpointEveryMs: 60_000, exportDir,
      });
      log.unlock(auditKey);
      closers.push(async () => { await log.close(); await store.close(); });
      return log;
    });
    const perNode = 40;
    const event = (i: number, n: number) => ({
      requestId: `r-${i}-${n}`, transport: 'http' as const, source: '127.0.0.1', principal: null, tenant: null, credential: null,
      op: 'CreateKey', keyId: null, keyVersion: null, result: 'OK' as const, request: {},
    });
    // each node records its state changes one after another, all nodes at once
    const results = await Promise.allSettled(nodes.map(async (log, i) => {
      for (let n = 0; n < perNode; n++) await log.record(event(i, n), { stateChange: true });
    }));
    const refused = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
    expect(refused).toEqual([]);
    const epoch = await nodes[0]!.readEpoch();
    expect(epoch).toEqual({ kind: 'ok', epoch: nodes.length * perNode });
  }, 60_000);
});
