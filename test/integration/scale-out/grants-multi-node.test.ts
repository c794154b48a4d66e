import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateGrantCommand, CreateKeyCommand, EncryptCommand, RetireGrantCommand, type KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf } from '../../helpers/errors.js';
import { callTarget } from '../../helpers/keyward-api.js';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../../helpers/postgres.js';
import { keyward, spawnKeyward, type KeywardProcess } from '../../helpers/process.js';
import { kmsClient, tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';

const available = await postgresAvailable();
const FAST = { KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1', KEYWARD_LOG_LEVEL: 'warn' };
const text = (s: string) => new TextEncoder().encode(s);

/** Polls until check passes; returns how long it took (or throws after timeoutMs). */
async function within(timeoutMs: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`not seen within ${timeoutMs} ms`);
    await sleep(20);
  }
}

describe.runIf(available)('grants across two Keyward nodes on one PostgreSQL database', () => {
  let db: TestDatabase;
  const dataDir = tempDir('keyward-grants-');
  const procs: KeywardProcess[] = [];
  const clients: KMSClient[] = [];
  let admin: { A: KMSClient; B: KMSClient };
  let dave: { A: KMSClient; B: KMSClient };
  let account: string;

  beforeAll(async () => {
    db = await createTestDatabase('grants');
    const init = await keyward(['init', '--store', db.url, '--data-dir', dataDir, '--json'], { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    expect(init.code, init.stderr).toBe(0);
    const c = JSON.parse(init.stdout) as { access_key_id: string; secret_access_key: string };
    const creds = { accessKeyId: c.access_key_id, secretAccessKey: c.secret_access_key };
    procs.push(...await Promise.all(['A', 'B'].map(() => spawnKeyward(['server', '--store', db.url, '--data-dir', dataDir, '--listen', '127.0.0.1:0'], { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE }, 90_000))));
    const [a, b] = procs as [KeywardProcess, KeywardProcess];
    const r = await callTarget(a.url, 'Keyward.CreatePrincipal', { Name: 'dave', Role: 'user' }, creds);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const d = r.body.Credentials as { AccessKeyId: string; SecretAccessKey: string };
    const daveCreds = { accessKeyId: d.AccessKeyId, secretAccessKey: d.SecretAccessKey };
    admin = { A: kmsClient(a.url, creds), B: kmsClient(b.url, creds) };
    dave = { A: kmsClient(a.url, daveCreds), B: kmsClient(b.url, daveCreds) };
    clients.push(admin.A, admin.B, dave.A, dave.B);
    account = (await callTarget(a.url, 'Keyward.GetCallerIdentity', {}, creds)).body.Account as string;
  }, 180_000);

  afterAll(async () => {
    for (const c of clients) c.destroy();
    for (const p of procs) await p.stop();
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a grant made on A is usable at once there with its token, on B within one second, and gone from B within one second of retiring', async () => {
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:user/admin` }, Action: 'kms:*', Resource: '*' }] });
    const key = (await admin.A.send(new CreateKeyCommand({ Policy: policy }))).KeyMetadata!;
    const encrypt = (c: KMSClient, tokens?: string[]) => c.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: text('x'), EncryptionContext: { app: 'web' }, ...(tokens ? { GrantTokens: tokens } : {}) }));
    // B has read the key and its (empty) grants: it refuses dave now
    expect((await errorOf(encrypt(dave.B))).name).toBe('AccessDeniedException');
    const grant = await admin.A.send(new CreateGrantCommand({
      KeyId: key.KeyId, GranteePrincipal: `arn:aws:iam::${account}:user/dave`, RetiringPrincipal: `arn:aws:iam::${account}:user/dave`,
      Operations: ['Encrypt'], Constraints: { EncryptionContextEquals: { app: 'web' } },
    }));
    expect((await encrypt(dave.A, [grant.GrantToken!])).KeyId).toBe(key.Arn);
    // the token works on B at once too (it names the grant, which B reads from the store)
    expect((await encrypt(dave.B, [grant.GrantToken!])).KeyId).toBe(key.Arn);
    const seen = await within(1000, async () => (await encrypt(dave.B).then(() => true, () => false)));
    expect(seen).toBeLessThanOrEqual(1000);
    await dave.A.send(new RetireGrantCommand({ GrantToken: grant.GrantToken }));
    const gone = await within(1000, async () => (await encrypt(dave.B).then(() => false, (e: Error) => e.name === 'AccessDeniedException')));
    expect(gone).toBeLessThanOrEqual(1000);
  });
});
