import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTarget } from '../../helpers/keyward-api.js';
import { startTestServer, tempDir, TEST_PASSPHRASE, type AdminCredentials } from '../../helpers/server.js';

/**
 * The store is untrusted: rows edited, moved, swapped or copied directly in the SQLite file
 * (including one key version's material copied onto another key or another tenant's key) are
 * detected when read, answered with IntegrityException, and never used.
 */

interface Fixture {
  readonly dataDir: string;
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
let fx: Fixture;
let pristine: Buffer;
const DB = (dir: string) => join(dir, 'keyward.db');

beforeAll(async () => {
  const dataDir = tempDir('keyward-tamper-');
  const t = await startTestServer({ dataDir });
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
  fx = { dataDir, admin: t.admin, otherAdmin, a, b, c, blobA, blobB, blobC, userToken };
  await t.close();
  const db = new Database(DB(dataDir));
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  pristine = Buffer.from(await import('node:fs').then((fs) => fs.readFileSync(DB(dataDir))));
}, 60_000);

afterAll(() => rmSync(fx.dataDir, { recursive: true, force: true }));

/** Restores the untouched store, applies `tamper` to it with SQL, restarts and unseals a server. */
async function withTampered(tamper: (rows: Rows) => Promise<void>, check: (call: (target: string, body: unknown, as?: { token: string }) => Promise<{ status: number; body: Record<string, unknown> }>) => Promise<void>) {
  const fs = await import('node:fs');
  for (const suffix of ['-wal', '-shm']) fs.rmSync(`${DB(fx.dataDir)}${suffix}`, { force: true });
  fs.writeFileSync(DB(fx.dataDir), pristine, { mode: 0o600 });
  const db = new Database(DB(fx.dataDir));
  try {
    await tamper(sqliteRows(db));
  } finally {
    db.close();
  }
  const t = await startTestServer({ dataDir: fx.dataDir, init: false, admin: fx.admin });
  try {
    const res = await fetch(`${t.url}/v1/sys/unseal`, { method: 'POST', body: JSON.stringify({ passphrase: TEST_PASSPHRASE }) });
    expect(res.status).toBe(200);
    await check((target, body, as = { token: fx.admin.token }) => callTarget(t.url, target, body, as));
  } finally {
    await t.close();
  }
}

/** Raw access to the store's rows, under the barrier (what an attacker with the database has). */
export interface Rows {
  get(key: string): Promise<Buffer>;
  put(key: string, value: Buffer): Promise<void>;
}

function sqliteRows(db: Database.Database): Rows {
  return {
    async get(key) {
      const r = db.prepare<[string], { value: Buffer }>('SELECT value FROM kv WHERE key = ?').get(key);
      if (r === undefined) throw new Error(`no row ${key}`);
      return r.value;
    },
    async put(key, value) {
      db.prepare('INSERT INTO kv (key, value, version) VALUES (?, ?, 1) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
    },
  };
}
const material = (tenant: string, keyId: string, v = 1) => `material/${tenant}/${keyId}/${String(v).padStart(10, '0')}`;

function expectIntegrity(r: { status: number; body: Record<string, unknown> }) {
  expect(r.body.__type).toBe('IntegrityException');
  expect(r.status).toBe(500);
  expect(String(r.body.message)).toMatch(/integrity/);
}

describe('tampering with the SQLite store', () => {
  it('the untouched store serves everything (the baseline the other cases change one thing in)', async () => {
    await withTampered(async () => undefined, async (call) => {
      expect((await call('TrentService.Decrypt', { CiphertextBlob: fx.blobA })).body.Plaintext).toBe(b64('under A'));
      expect((await call('TrentService.Decrypt', { CiphertextBlob: fx.blobB })).body.Plaintext).toBe(b64('under B'));
      expect((await call('TrentService.Decrypt', { CiphertextBlob: fx.blobC }, fx.otherAdmin)).body.Plaintext).toBe(b64('under C'));
      expect((await call('TrentService.DescribeKey', { KeyId: 'alias/a' })).status).toBe(200);
    });
  });

  it("key A's material copied over key B's: B's material is refused, never used to encrypt or decrypt", async () => {
    await withTampered(async (db) => db.put(material('default', fx.b), await db.get(material('default', fx.a))), async (call) => {
      expectIntegrity(await call('TrentService.Decrypt', { CiphertextBlob: fx.blobB }));
      expectIntegrity(await call('TrentService.Encrypt', { KeyId: fx.b, Plaintext: b64('x') }));
      expectIntegrity(await call('TrentService.GenerateDataKey', { KeyId: fx.b, KeySpec: 'AES_256' }));
      // A itself is untouched and still works
      expect((await call('TrentService.Decrypt', { CiphertextBlob: fx.blobA })).body.Plaintext).toBe(b64('under A'));
    });
  });

  it("a default-tenant key's material copied onto another tenant's key is refused", async () => {
    await withTampered(async (db) => db.put(material('other', fx.c), await db.get(material('default', fx.a))), async (call) => {
      expectIntegrity(await call('TrentService.Decrypt', { CiphertextBlob: fx.blobC }, fx.otherAdmin));
      expectIntegrity(await call('TrentService.Encrypt', { KeyId: fx.c, Plaintext: b64('x') }, fx.otherAdmin));
    });
  });

  it('a material row moved to a new version path of its own key is refused', async () => {
    await withTampered(async (db) => db.put(material('default', fx.a, 2), await db.get(material('default', fx.a, 1))), async (call) => {
      // the key record still says one version: the stray row is never read, and v1 still works
      expect((await call('TrentService.Decrypt', { CiphertextBlob: fx.blobA })).body.Plaintext).toBe(b64('under A'));
      const blob = Buffer.from(fx.blobA, 'base64');
      blob.writeUInt32BE(2, 18); // a ciphertext header naming version 2
      const r = await call('TrentService.Decrypt', { CiphertextBlob: blob.toString('base64') });
      expect(['IntegrityException', 'InvalidCiphertextException']).toContain(r.body.__type);
    });
  });

  it('one flipped bit in a key record is detected', async () => {
    await withTampered(async (db) => {
      const v = Buffer.from(await db.get(`keys/default/${fx.a}`));
      v[v.length - 20]! ^= 0x01;
      await db.put(`keys/default/${fx.a}`, v);
    }, async (call) => {
      expectIntegrity(await call('TrentService.DescribeKey', { KeyId: fx.a }));
      expectIntegrity(await call('TrentService.Decrypt', { CiphertextBlob: fx.blobA }));
      expect((await call('TrentService.DescribeKey', { KeyId: fx.b })).status).toBe(200);
    });
  });

  it('two key records swapped are both detected', async () => {
    await withTampered(async (db) => {
      const ka = await db.get(`keys/default/${fx.a}`);
      const kb = await db.get(`keys/default/${fx.b}`);
      await db.put(`keys/default/${fx.a}`, kb);
      await db.put(`keys/default/${fx.b}`, ka);
    }, async (call) => {
      expectIntegrity(await call('TrentService.DescribeKey', { KeyId: fx.a }));
      expectIntegrity(await call('TrentService.DescribeKey', { KeyId: fx.b }));
    });
  });

  it('an alias row copied to a new alias name is detected, not followed', async () => {
    await withTampered(async (db) => db.put('aliases/default/alias/stolen', await db.get('aliases/default/alias/a')), async (call) => {
      expectIntegrity(await call('TrentService.DescribeKey', { KeyId: 'alias/stolen' }));
      expect((await call('TrentService.DescribeKey', { KeyId: 'alias/a' })).status).toBe(200);
    });
  });

  it("a principal record edited to another tenant's path does not authenticate anyone", async () => {
    await withTampered(async (db) => db.put('principals/other/app', await db.get('principals/default/app')), async (call) => {
      // the original still works; the copy is refused when listed
      expect((await call('Keyward.GetCallerIdentity', {}, { token: fx.userToken })).status).toBe(200);
      expectIntegrity(await call('Keyward.ListPrincipals', {}, fx.otherAdmin));
    });
  });

  it('a garbage value or a truncated record is detected', async () => {
    await withTampered(async (db) => {
      await db.put(`keys/default/${fx.a}`, Buffer.from('{"keyId":"forged","state":"Enabled"}'));
      await db.put(`keys/default/${fx.b}`, (await db.get(`keys/default/${fx.b}`)).subarray(0, 40));
    }, async (call) => {
      expectIntegrity(await call('TrentService.DescribeKey', { KeyId: fx.a }));
      expectIntegrity(await call('TrentService.DescribeKey', { KeyId: fx.b }));
    });
  });
});
