import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateKeyCommand, DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, dbQuery, postgresAvailable, type TestDatabase } from '../../helpers/postgres.js';
import { keyward, spawnKeyward, type KeywardProcess } from '../../helpers/process.js';
import { kmsClient, tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';

const available = await postgresAvailable();
const FAST = { KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1', KEYWARD_LOG_LEVEL: 'warn' };
const WITH_PASS = { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE };

describe.runIf(available)('keyward store migrate, backup and restore through the real CLI', () => {
  const dir = tempDir('keyward-maint-');
  const sqlitePath = join(dir, 'origin', 'keyward.db');
  const dbs: TestDatabase[] = [];
  const running: KeywardProcess[] = [];
  let creds: { accessKeyId: string; secretAccessKey: string };
  let pg: TestDatabase;
  let blobFromSqlite: Uint8Array;
  let blobFromPostgres: Uint8Array;
  const secretText = 'plaintext that must never be in a backup';

  const serve = async (store: string, env: NodeJS.ProcessEnv = WITH_PASS) => {
    const p = await spawnKeyward(['server', '--store', store, '--data-dir', dir, '--listen', '127.0.0.1:0'], env);
    running.push(p);
    return p;
  };
  const decryptOn = async (url: string, blob: Uint8Array) => {
    const kms = kmsClient(url, creds);
    try {
      return new TextDecoder().decode((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext);
    } finally {
      kms.destroy();
    }
  };

  beforeAll(async () => {
    pg = await createTestDatabase('migrate');
    dbs.push(pg);
    const init = await keyward(['init', '--store', `sqlite:${sqlitePath}`, '--data-dir', dir, '--json'], WITH_PASS);
    expect(init.code, init.stderr).toBe(0);
    const c = JSON.parse(init.stdout) as { access_key_id: string; secret_access_key: string };
    creds = { accessKeyId: c.access_key_id, secretAccessKey: c.secret_access_key };
    const server = await serve(`sqlite:${sqlitePath}`);
    const kms = kmsClient(server.url, creds);
    const key = await kms.send(new CreateKeyCommand({ Description: 'made on sqlite' }));
    blobFromSqlite = (await kms.send(new EncryptCommand({ KeyId: key.KeyMetadata!.KeyId, Plaintext: new TextEncoder().encode(secretText) }))).CiphertextBlob!;
    kms.destroy();
    await server.stop();
  });

  afterAll(async () => {
    for (const p of running) await p.stop();
    for (const d of dbs) await d.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('store migrate copies a SQLite installation into PostgreSQL; the same passphrase unseals it there', async () => {
    const r = await keyward(['store', 'migrate', '--from', `sqlite:${sqlitePath}`, '--to', pg.url], FAST);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { entries: number };
    expect(out.entries).toBeGreaterThan(3);
    const rows = await dbQuery(pg.url, 'SELECT count(*)::int AS n FROM keyward_kv');
    expect(rows.rows[0].n).toBe(out.entries);
    // records stay barrier-encrypted: the plaintext appears nowhere in the database
    const all = await dbQuery(pg.url, 'SELECT value FROM keyward_kv');
    for (const row of all.rows as Array<{ value: Buffer }>) expect(row.value.includes(Buffer.from('made on sqlite'))).toBe(false);

    const server = await serve(pg.url);
    expect(await decryptOn(server.url, blobFromSqlite)).toBe(secretText);
    const kms = kmsClient(server.url, creds);
    const key = await kms.send(new CreateKeyCommand({ Description: 'made on postgres' }));
    blobFromPostgres = (await kms.send(new EncryptCommand({ KeyId: key.KeyMetadata!.KeyId, Plaintext: new TextEncoder().encode('second') }))).CiphertextBlob!;
    kms.destroy();
  });

  it('store migrate refuses a target that is not empty and leaves it untouched', async () => {
    const before = (await dbQuery(pg.url, 'SELECT count(*)::int AS n FROM keyward_kv')).rows[0].n as number;
    const r = await keyward(['store', 'migrate', '--from', `sqlite:${sqlitePath}`, '--to', pg.url], FAST);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('the target postgres store is not empty');
    expect((await dbQuery(pg.url, 'SELECT count(*)::int AS n FROM keyward_kv')).rows[0].n).toBe(before);
    // and an empty source (a wrong path) is refused rather than "migrated"
    const empty = await keyward(['store', 'migrate', '--from', `sqlite:${join(dir, 'nothing', 'keyward.db')}`, '--to', `sqlite:${join(dir, 'nowhere', 'keyward.db')}`], FAST);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('the source store is empty');
  });

  it('backup of the running PostgreSQL installation, restore into a fresh SQLite file: both ciphertexts decrypt', async () => {
    const file = join(dir, 'snapshot.kwbak');
    const b = await keyward(['backup', '--store', pg.url, '--out', file], FAST);
    expect(b.code, b.stderr).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const content = readFileSync(file, 'utf8');
    expect(content).not.toContain(secretText);
    expect(content).not.toContain(TEST_PASSPHRASE);
    expect(content).not.toContain(Buffer.from(secretText).toString('base64'));
    expect(JSON.parse(b.stdout).entries).toBe(content.trim().split('\n').length - 2);

    const restoredPath = join(dir, 'restored', 'keyward.db');
    const r = await keyward(['restore', '--store', `sqlite:${restoredPath}`, '--in', file], FAST);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ entries: JSON.parse(b.stdout).entries });
    const server = await serve(`sqlite:${restoredPath}`);
    expect(await decryptOn(server.url, blobFromSqlite)).toBe(secretText);
    expect(await decryptOn(server.url, blobFromPostgres)).toBe('second');

    // and into another PostgreSQL database
    const second = await createTestDatabase('restore');
    dbs.push(second);
    const r2 = await keyward(['restore', '--store', second.url, '--in', file], FAST);
    expect(r2.code, r2.stderr).toBe(0);
    const pgServer = await serve(second.url);
    expect(await decryptOn(pgServer.url, blobFromPostgres)).toBe('second');
  });

  it('restore refuses an edited, truncated or foreign file, and a non-empty target', async () => {
    const file = join(dir, 'snapshot.kwbak');
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    const target = `sqlite:${join(dir, 'never', 'keyward.db')}`;
    const edited = join(dir, 'edited.kwbak');
    const entry = JSON.parse(lines[2]!) as { k: string; v: string };
    const flipped = Buffer.from(entry.v, 'base64');
    flipped[flipped.length - 1]! ^= 1;
    writeFileSync(edited, [...lines.slice(0, 2), JSON.stringify({ k: entry.k, v: flipped.toString('base64') }), ...lines.slice(3)].join('\n') + '\n');
    const truncated = join(dir, 'truncated.kwbak');
    writeFileSync(truncated, lines.slice(0, -2).join('\n') + '\n');
    const foreign = join(dir, 'foreign.kwbak');
    writeFileSync(foreign, '{"hello":"world"}\n');
    const cases: Array<[string, RegExp]> = [
      [edited, /do not match the checksum/],
      [truncated, /end marker is missing/],
      [foreign, /not a Keyward backup header/],
      [join(dir, 'missing.kwbak'), /ENOENT|no such file/],
    ];
    for (const [f, message] of cases) {
      const r = await keyward(['restore', '--store', target, '--in', f], FAST);
      expect(r.code, f).toBe(1);
      expect(r.stderr).toMatch(message);
    }
    const nonEmpty = await keyward(['restore', '--store', pg.url, '--in', file], FAST);
    expect(nonEmpty.code).toBe(1);
    expect(nonEmpty.stderr).toContain('not empty');
  });

  it('a node refuses to start on a database migrated by a newer Keyward, naming the problem', async () => {
    const newer = await createTestDatabase('newer');
    dbs.push(newer);
    await dbQuery(newer.url, 'CREATE TABLE keyward_meta (name text PRIMARY KEY, value text NOT NULL)');
    await dbQuery(newer.url, "INSERT INTO keyward_meta VALUES ('schema_version', '99')");
    const err = await spawnKeyward(['server', '--store', newer.url, '--data-dir', dir, '--listen', '127.0.0.1:0'], WITH_PASS, 10_000).then(
      () => { throw new Error('started'); }, (e: Error) => e);
    expect(err.message).toMatch(/exited with 1/);
    expect(err.message).toContain("the database's schema version 99 is newer than this Keyward knows (1); upgrade Keyward");
  });
});
