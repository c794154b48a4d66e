import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../../src/config/index.js';
import { callTarget } from '../../helpers/keyward-api.js';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../../helpers/postgres.js';
import { startTestServer, tempDir, TEST_PASSPHRASE, type AdminCredentials } from '../../helpers/server.js';

/**
 * The store is untrusted: rows edited, moved, swapped or copied directly in the database
 * (SQLite file or PostgreSQL table), including one key version's material copied onto another
 * key or another tenant's key, are detected when read, answered with IntegrityException, and
 * never used. Each case starts again from the same untouched store.
 */

/** Raw access to the store's rows, under the barrier (what an attacker with the database has). */
interface Rows {
  get(key: string): Promise<Buffer>;
  put(key: string, value: Buffer): Promise<void>;
}

/** One store to tamper with: its server settings, a snapshot to return to, raw row access. */
interface Backend {
  readonly config: ConfigInput;
  /** Remembers the current rows (the server is stopped). */
  snapshot(): Promise<void>;
  /** Puts the remembered rows back, then lets `tamper` change them. */
  restore(tamper: (rows: Rows) => Promise<void>): Promise<void>;
  dispose(): Promise<void>;
}

function sqliteBackend(dataDir: string): Backend {
  const file = join(dataDir, 'keyward.db');
  let pristine = Buffer.alloc(0);
  return {
    config: {},
    async snapshot() {
      const db = new Database(file);
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.close();
      pristine = readFileSync(file);
    },
    async restore(tamper) {
      for (const suffix of ['-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
      writeFileSync(file, pristine, { mode: 0o600 });
      const db = new Database(file);
      try {
        await tamper({
          async get(key) {
            const r = db.prepare<[string], { value: Buffer }>('SELECT value FROM kv WHERE key = ?').get(key);
            if (r === undefined) throw new Error(`no row ${key}`);
            return r.value;
          },
          async put(key, value) {
            db.prepare('INSERT INTO kv (key, value, version) VALUES (?, ?, 1) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
          },
        });
      } finally {
        db.close();
      }
    },
    async dispose() {},
  };
}

function postgresBackend(db: TestDatabase): Backend {
  let pristine: Array<{ key: string; value: Buffer; version: string }> = [];
  const withClient = async <T>(fn: (c: pg.Client) => Promise<T>) => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  return {
    config: { store: db.url },
    async snapshot() {
      pristine = await withClient(async (c) => (await c.query<{ key: string; value: Buffer; version: string }>('SELECT key, value, version FROM keyward_kv')).rows);
    },
    async restore(tamper) {
      await withClient(async (c) => {
        await c.query('BEGIN');
        await c.query('DELETE FROM keyward_kv');
        for (const r of pristine) await c.query('INSERT INTO keyward_kv (key, value, version) VALUES ($1, $2, $3)', [r.key, r.value, r.version]);
        await c.query('COMMIT');
        await tamper({
          async get(key) {
            const r = await c.query<{ value: Buffer }>('SELECT value FROM keyward_kv WHERE key = $1', [key]);
            if (r.rows[0] === undefined) throw new Error(`no row ${key}`);
            return r.rows[0].value;
          },
          async put(key, value) {
            await c.query('INSERT INTO keyward_kv (key, value, version) VALUES ($1, $2, 1) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
          },
        });
      });
    },
    dispose: () => db.drop(),
  };
}

interface Fixture {
  readonly dataDir: string;
  readonly backend: Backend;
  readonly admin: AdminCredentials;
  readonly otherAdmin: { token: string };
  readonly a: string;
  readonly b: string;
  readonly c: string;
  readonly blobA: string;
  readonly blobB: string;
  readonly blobC: string;
  readonly userToken: string;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

async function makeFixture(dataDir: string, backend: Backend): Promise<Fixture> {
  const t = await startTestServer({ dataDir, config: backend.config });
  const auth = { token: t.admin.token };
  const ok = async (target: string, body: unknown, as: { token: string } = auth) => {
    const r = await callTarget(t.url, target, body, as);
    if (r.status !== 200) throw new Error(`${target}: ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const a = ((await ok('TrentService.CreateKey', { Description: 'key A' })).KeyMetadata as { KeyId: string }).KeyId;
  const b = ((await ok('TrentService.CreateKey', { Description: 'key B' })).KeyMetadata as { KeyId: string }).KeyId;
  await ok('TrentService.CreateAlias', { AliasName: 'alias/a', TargetKeyId: a });
  await ok('TrentService.CreateAlias', { AliasName: 'alias/b', TargetKeyId: b });
  await ok('Keyward.CreateTenant', { TenantId: 'other' });
  const otherAdmin = { token: ((await ok('Keyward.CreatePrincipal', { Name: 'boss', Role: 'admin', Tenant: 'other' })).Credentials as { Token: string }).Token };
  const c = ((await ok('TrentService.CreateKey', { Description: 'key C' }, otherAdmin)).KeyMetadata as { KeyId: string }).KeyId;
  const userToken = ((await ok('Keyward.CreatePrincipal', { Name: 'app', Role: 'user' })).Credentials as { Token: string }).Token;
  const blobA = (await ok('TrentService.Encrypt', { KeyId: a, Plaintext: b64('under A') })).CiphertextBlob as string;
  const blobB = (await ok('TrentService.Encrypt', { KeyId: b, Plaintext: b64('under B') })).CiphertextBlob as string;
  const blobC = (await ok('TrentService.Encrypt', { KeyId: c, Plaintext: b64('under C') }, otherAdmin)).CiphertextBlob as string;
  await t.close();
  await backend.snapshot();
  return { dataDir, backend, admin: t.admin, otherAdmin, a, b, c, blobA, blobB, blobC, userToken };
}

type Call = (target: string, body: unknown, as?: { token: string }) => Promise<{ status: number; body: Record<string, unknown> }>;

/** Restores the untouched store, applies `tamper` to its rows, restarts and unseals a server. */
async function withTampered(fx: Fixture, tamper: (rows: Rows) => Promise<void>, check: (call: Call) => Promise<void>) {
  await fx.backend.restore(tamper);
  const t = await startTestServer({ dataDir: fx.dataDir, init: false, admin: fx.admin, config: fx.backend.config });
  try {
    const res = await fetch(`${t.url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: TEST_PASSPHRASE }) });
    expect(res.status).toBe(200);
    await check((target, body, as = { token: fx.admin.token }) => callTarget(t.url, target, body, as));
  } finally {
    await t.close();
  }
}

const material = (tenant: string, keyId: string, v = 1) => `material/${tenant}/${keyId}/${String(v).padStart(10, '0')}`;

function expectIntegrity(r: { status: number; body: Record<string, unknown> }) {
  expect(r.body.__type).toBe('IntegrityException');
  expect(r.status).toBe(500);
  expect(String(r.body.message)).toMatch(/integrity/);
}

// Without CI a missing PostgreSQL skips its half; with CI=true it fails (helpers/postgres.ts).
const withPostgres = await postgresAvailable();

describe.each([
  { name: 'SQLite', run: true, open: async (dir: string) => sqliteBackend(dir) },
  { name: 'PostgreSQL', run: withPostgres, open: async () => postgresBackend(await createTestDatabase('tamper')) },
])('tampering with the $name store', ({ run, open }) => {
  let fx: Fixture;
  beforeAll(async () => {
    if (!run) return;
    const dataDir = tempDir('keyward-tamper-');
    fx = await makeFixture(dataDir, await open(dataDir));
  }, 60_000);
  afterAll(async () => {
    if (!run) return;
    rmSync(fx.dataDir, { recursive: true, force: true });
    await fx.backend.dispose();
  });
  const itRuns = run ? it : it.skip;

  itRuns('the untouched store serves everything (the baseline the other cases change one thing in)', async () => {
    await withTampered(fx, async () => undefined, async (call) => {
      expect((await call('TrentService.Decrypt', { CiphertextBlob: fx.blobA })).body.Plaintext).toBe(b64('under A'));
      expect((await call('TrentService.Decrypt', { CiphertextBlob: fx.blobB })).body.Plaintext).toBe(b64('under B'));
      expect((await call('TrentService.Decrypt', { CiphertextBlob: fx.blobC }, fx.otherAdmin)).body.Plaintext).toBe(b64('under C'));
      expect((await call('TrentService.DescribeKey', { KeyId: 'alias/a' })).status).toBe(200);
    });
  });

  itRuns("key A's material copied over key B's: B's material is refused, never used to encrypt or decrypt", async () => {
    await withTampered(fx, async (db) => db.put(material('default', fx.b), await db.get(material('default', fx.a))), async (call) => {
      expectIntegrity(await call('TrentService.Decrypt', { CiphertextBlob: fx.blobB }));
      expectIntegrity(await call('TrentService.Encrypt', { KeyId: fx.b, Plaintext: b64('x') }));
      expectIntegrity(await call('TrentService.GenerateDataKey', { KeyId: fx.b, KeySpec: 'AES_256' }));
      // A itself is untouched and still works
      expect((await call('TrentService.Decrypt', { CiphertextBlob: fx.blobA })).body.Plaintext).toBe(b64('under A'));
    });
  });

  itRuns("a default-tenant key's material copied onto another tenant's key is refused", async () => {
    await withTampered(fx, async (db) => db.put(material('other', fx.c), await db.get(material('default', fx.a))), async (call) => {
      expectIntegrity(await call('TrentService.Decrypt', { CiphertextBlob: fx.blobC }, fx.otherAdmin));
      expectIntegrity(await call('TrentService.Encrypt', { KeyId: fx.c, Plaintext: b64('x') }, fx.otherAdmin));
    });
  });

  itRuns('a material row moved to a new version path of its own key is refused', async () => {
    await withTampered(fx, async (db) => db.put(material('default', fx.a, 2), await db.get(material('default', fx.a, 1))), async (call) => {
      // the key record still says one version: the stray row is never read, and v1 still works
      expect((await call('TrentService.Decrypt', { CiphertextBlob: fx.blobA })).body.Plaintext).toBe(b64('under A'));
      const blob = Buffer.from(fx.blobA, 'base64');
      blob.writeUInt32BE(2, 18); // a ciphertext header naming version 2
      const r = await call('TrentService.Decrypt', { CiphertextBlob: blob.toString('base64') });
      expect(['IntegrityException', 'InvalidCiphertextException']).toContain(r.body.__type);
    });
  });

  itRuns('one flipped bit in a key record is detected', async () => {
    await withTampered(fx, async (db) => {
      const v = Buffer.from(await db.get(`keys/default/${fx.a}`));
      v[v.length - 20]! ^= 0x01;
      await db.put(`keys/default/${fx.a}`, v);
    }, async (call) => {
      expectIntegrity(await call('TrentService.DescribeKey', { KeyId: fx.a }));
      expectIntegrity(await call('TrentService.Decrypt', { CiphertextBlob: fx.blobA }));
      expect((await call('TrentService.DescribeKey', { KeyId: fx.b })).status).toBe(200);
    });
  });

  itRuns('two key records swapped are both detected', async () => {
    await withTampered(fx, async (db) => {
      const ka = await db.get(`keys/default/${fx.a}`);
      const kb = await db.get(`keys/default/${fx.b}`);
      await db.put(`keys/default/${fx.a}`, kb);
      await db.put(`keys/default/${fx.b}`, ka);
    }, async (call) => {
      expectIntegrity(await call('TrentService.DescribeKey', { KeyId: fx.a }));
      expectIntegrity(await call('TrentService.DescribeKey', { KeyId: fx.b }));
    });
  });

  itRuns('an alias row copied to a new alias name is detected, not followed', async () => {
    await withTampered(fx, async (db) => db.put('aliases/default/alias/stolen', await db.get('aliases/default/alias/a')), async (call) => {
      expectIntegrity(await call('TrentService.DescribeKey', { KeyId: 'alias/stolen' }));
      expect((await call('TrentService.DescribeKey', { KeyId: 'alias/a' })).status).toBe(200);
    });
  });

  itRuns("a principal record edited to another tenant's path does not authenticate anyone", async () => {
    await withTampered(fx, async (db) => db.put('principals/other/app', await db.get('principals/default/app')), async (call) => {
      // the original still works; the copy is refused when listed
      expect((await call('Keyward.GetCallerIdentity', {}, { token: fx.userToken })).status).toBe(200);
      expectIntegrity(await call('Keyward.ListPrincipals', {}, fx.otherAdmin));
    });
  });

  itRuns('a garbage value or a truncated record is detected', async () => {
    await withTampered(fx, async (db) => {
      await db.put(`keys/default/${fx.a}`, Buffer.from('{"keyId":"forged","state":"Enabled"}'));
      await db.put(`keys/default/${fx.b}`, (await db.get(`keys/default/${fx.b}`)).subarray(0, 40));
    }, async (call) => {
      expectIntegrity(await call('TrentService.DescribeKey', { KeyId: fx.a }));
      expectIntegrity(await call('TrentService.DescribeKey', { KeyId: fx.b }));
    });
  });
});
