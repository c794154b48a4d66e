import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  POSTGRES_SCHEMA_VERSION, PostgresStore, StoreSchemaError, StoreUnavailableError, type StoreChange,
} from '../../../src/storage/index.js';
import { createTestDatabase, dbQuery, postgresAvailable, type TestDatabase } from '../../helpers/postgres.js';
import { startTcpProxy, type TcpProxy } from '../../helpers/tcp-proxy.js';
import { eventually } from '../../helpers/wait.js';

const available = await postgresAvailable();


describe.runIf(available)('PostgresStore: migrations, outages, change feed', () => {
  let db: TestDatabase;
  const stores: PostgresStore[] = [];
  const open = (url: string, options = {}) => {
    const s = new PostgresStore(url, options);
    stores.push(s);
    return s;
  };

  beforeEach(async () => {
    db = await createTestDatabase('pgb');
  });
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    await db.drop();
  });

  it('nodes starting together migrate once, under the advisory lock', async () => {
    const nodes = Array.from({ length: 5 }, () => open(db.url));
    await Promise.all(nodes.map((n) => n.ready()));
    const v = await dbQuery(db.url, "SELECT value FROM keyward_meta WHERE name = 'schema_version'");
    expect(v.rows).toEqual([{ value: String(POSTGRES_SCHEMA_VERSION) }]);
    const tables = await dbQuery(db.url, "SELECT tablename FROM pg_tables WHERE tablename LIKE 'keyward_%' ORDER BY 1");
    expect(tables.rows.map((r: { tablename: string }) => r.tablename)).toEqual(['keyward_kv', 'keyward_meta']);
    await nodes[0]!.put('k', Buffer.from('v'));
    expect((await nodes[4]!.get('k'))?.value.toString()).toBe('v');
  });

  it('refuses a database whose schema is newer than this build knows, and leaves it untouched', async () => {
    await open(db.url).ready();
    await dbQuery(db.url, "UPDATE keyward_meta SET value = $1 WHERE name = 'schema_version'", [String(POSTGRES_SCHEMA_VERSION + 1)]);
    const newer = open(db.url);
    await expect(newer.ready()).rejects.toBeInstanceOf(StoreSchemaError);
    await expect(newer.get('k')).rejects.toThrow(/schema version 2 is newer than this Keyward knows \(1\)/);
    const v = await dbQuery(db.url, "SELECT value FROM keyward_meta WHERE name = 'schema_version'");
    expect(v.rows[0].value).toBe(String(POSTGRES_SCHEMA_VERSION + 1));
  });

  it('fails fast with StoreUnavailableError while the database is unreachable, recovers by itself, loses nothing committed', async () => {
    const proxy: TcpProxy = await startTcpProxy('127.0.0.1', Number(new URL(db.url).port || 5432));
    try {
      const url = new URL(db.url);
      url.port = String(proxy.port);
      const store = open(url.toString(), { connectTimeoutMs: 1000 });
      const changes: StoreChange[] = [];
      store.watch((c) => changes.push(c));
      expect(await store.put('before', Buffer.from('kept'))).toBe(1);

      await proxy.cut();
      const started = Date.now();
      await expect(store.get('before')).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.put('during', Buffer.from('x'))).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(Date.now() - started).toBeLessThan(3000);
      // the listener is gone: watchers are told everything may have changed
      expect(await eventually(() => changes.some((c) => 'all' in c), 1000)).toBe(true);
      expect(store.listeningForChanges).toBe(false);
      const err = await store.get('before').catch((e: unknown) => e as Error);
      expect(String(err)).toMatch(/PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+\/keyward_pgb_\w+ is unavailable/);

      await proxy.restore();
      expect(await eventually(async () => (await store.get('before').catch(() => undefined)) !== undefined, 5000)).toBe(true);
      expect((await store.get('before'))?.value.toString()).toBe('kept');
      expect(await store.get('during')).toBeUndefined();
      expect(await eventually(() => store.listeningForChanges, 3000)).toBe(true);
      expect(await store.put('after', Buffer.from('y'))).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it('the change listener reconnects after its connection is killed and delivers again', async () => {
    const writer = open(db.url);
    const reader = open(db.url, { maxReconnectDelayMs: 200 });
    await Promise.all([writer.ready(), reader.ready()]);
    const keys: string[] = [];
    let alls = 0;
    reader.watch((c) => ('keys' in c ? keys.push(...c.keys) : alls++));
    await dbQuery(db.url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'keyward-listen'", [db.name]);
    expect(await eventually(() => alls > 0, 1000)).toBe(true);
    expect(await eventually(() => reader.listeningForChanges, 3000)).toBe(true);
    await writer.put('after-reconnect', Buffer.from('x'));
    expect(await eventually(() => keys.includes('after-reconnect'), 1000)).toBe(true);
  });

  it("announces a handle's own commit once: its NOTIFY coming back over the listener is not a second change", async () => {
    const own = open(db.url);
    const other = open(db.url);
    await Promise.all([own.ready(), other.ready()]);
    expect(await eventually(() => own.listeningForChanges, 3000)).toBe(true);
    const seen: string[] = [];
    own.watch((c) => { if ('keys' in c) seen.push(...c.keys); else seen.push('(all)'); });
    await own.put('mine', Buffer.from('1'));
    await own.transaction(async (tx) => { await tx.put('mine-too', Buffer.from('2')); });
    // NOTIFYs arrive in commit order: once the other handle's later commit is heard, our own have come back too
    await other.put('theirs', Buffer.from('3'));
    expect(await eventually(() => seen.includes('theirs'), 3000)).toBe(true);
    expect(seen).toEqual(['mine', 'mine-too', 'theirs']);
  });

  it('a silently dead listener connection (no FIN, no RST) is noticed by the heartbeat and replaced', async () => {
    const proxy = await startTcpProxy('127.0.0.1', Number(new URL(db.url).port || 5432));
    try {
      const url = new URL(db.url);
      url.port = String(proxy.port);
      const store = open(url.toString(), { heartbeatMs: 300, connectTimeoutMs: 500 });
      await store.ready();
      let alls = 0;
      store.watch((c) => { if ('all' in c) alls++; });
      proxy.freeze();
      // TCP alone would take minutes to notice; the heartbeat's deadline is the bound (no timed assertion)
      expect(await eventually(() => alls > 0, 3000)).toBe(true);
      expect(store.listeningForChanges).toBe(false);
      await proxy.cut();
      await proxy.restore();
      expect(await eventually(() => store.listeningForChanges, 5000)).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('a change too large for one NOTIFY payload is announced as "everything changed"', async () => {
    const writer = open(db.url);
    const reader = open(db.url);
    await Promise.all([writer.ready(), reader.ready()]);
    let alls = 0;
    reader.watch((c) => { if ('all' in c) alls++; });
    await writer.transaction(async (tx) => {
      for (let i = 0; i < 400; i++) await tx.put(`bulk/${'x'.repeat(20)}/${i}`, Buffer.from('v'));
    });
    expect(await eventually(() => alls > 0, 1000)).toBe(true);
  });

  it('never puts the password of the URL in an error', async () => {
    const store = open('postgres://postgres:s3cret-pw@127.0.0.1:1/nothing', { connectTimeoutMs: 500 });
    const err = await store.get('k').catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect(String(err)).not.toContain('s3cret-pw');
    expect(String(err)).toContain('postgres://postgres:***@127.0.0.1:1/nothing');
  });
});
