import { CreateKeyCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Store } from '../../../src/storage/index.js';
import { SqliteStore } from '../../../src/storage/index.js';
import { verifyAudit } from '../../helpers/audit.js';
import { grpcClient, loadProto } from '../../helpers/grpc.js';
import { callTarget } from '../../helpers/keyward-api.js';
import { createTestDatabase, postgresAvailable } from '../../helpers/postgres.js';
import { keyward, spawnKeyward } from '../../helpers/process.js';
import { startTestServer, tempDir, TEST_PASSPHRASE, type TestServer } from '../../helpers/server.js';
import { pollUntil } from '../../helpers/wait.js';

interface KeyList { ActiveVersion: number; Keys: Array<{ Version: number; Fingerprint: string; PublicKey: string; Active: boolean; Created: string | null; Retired: string | null }> }
interface Checkpoint { type: 'checkpoint'; chain: string; seq: number; kind: string; keyFingerprint: string; keyVersion?: number }

/** The newest checkpoint of a chain, read from the store as an auditor with database access would. */
async function newestCheckpoint(store: Store, chain: string): Promise<Checkpoint | undefined> {
  let last: Checkpoint | undefined;
  for (let after: string | undefined; ;) {
    const page = await store.list(`audit/${encodeURIComponent(chain)}/c/`, { limit: 1000, ...(after !== undefined ? { after } : {}) });
    for (const e of page.entries) last = JSON.parse(e.value.toString('utf8')) as Checkpoint;
    if (page.next === undefined) return last;
    after = page.next;
  }
}

const available = await postgresAvailable();

/** Issue 21 item 8: the checkpoint signing key is rotatable; old checkpoints keep verifying. */
describe('rotating the audit checkpoint signing key', () => {
  it('names the version in every checkpoint, publishes every version, verifies old and new checkpoints, and fails clearly on an unknown key', async () => {
    const dir = tempDir('keyward-cpkey-');
    const sink = join(dir, 'audit.jsonl');
    const dataDir = join(dir, 'data');
    const config = { nodeId: 'cpkey', auditFile: sink, auditCheckpointRecords: 2, auditCheckpointMs: 3_600_000, grpcListen: '127.0.0.1:0' };
    let t: TestServer | undefined = await startTestServer({ dataDir, config });
    try {
      const env = { KEYWARD_ENDPOINT: t.url, KEYWARD_TOKEN: t.admin.token };
      const before = await keyward(['audit', 'checkpoint-keys'], env);
      expect(before.code, before.stderr).toBe(0);
      const v1 = JSON.parse(before.stdout) as KeyList;
      expect(v1).toMatchObject({ ActiveVersion: 1, Keys: [{ Version: 1, Active: true, Retired: null }] });
      // version 1 is the key installations always had: the one `audit public-key` printed
      const current = await callTarget(t.url, 'Keyward.GetAuditPublicKey', {}, { token: t.admin.token });
      expect(current.body).toMatchObject({ KeyVersion: 1, Fingerprint: v1.Keys[0]!.Fingerprint, PublicKey: v1.Keys[0]!.PublicKey });
      const v1Pem = join(dir, 'v1.pem');
      writeFileSync(v1Pem, v1.Keys[0]!.PublicKey);

      const keyId = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
      for (let i = 0; i < 3; i++) await t.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('before') }));
      const store = t.server.installation.store;
      expect(await newestCheckpoint(store, 'cpkey')).toMatchObject({ keyVersion: 1, keyFingerprint: v1.Keys[0]!.Fingerprint });

      // a data-plane principal may read the public keys but not rotate
      const user = await callTarget(t.url, 'Keyward.CreatePrincipal', { Name: 'reader' }, { token: t.admin.token });
      expect(user.status, JSON.stringify(user.body)).toBe(200);
      const userToken = (user.body.Credentials as { Token: string }).Token;
      expect((await callTarget(t.url, 'Keyward.ListAuditPublicKeys', {}, { token: userToken })).status).toBe(200);
      const refused = await callTarget(t.url, 'Keyward.RotateAuditCheckpointKey', {}, { token: userToken });
      expect(refused).toMatchObject({ status: 400, body: { __type: 'AccessDeniedException' } });

      const rotated = await keyward(['audit', 'rotate-checkpoint-key'], env);
      expect(rotated.code, rotated.stderr).toBe(0);
      const made = JSON.parse(rotated.stdout) as { Version: number; Fingerprint: string; PreviousVersion: number };
      expect(made).toMatchObject({ Version: 2, PreviousVersion: 1 });
      expect(made.Fingerprint).not.toBe(v1.Keys[0]!.Fingerprint);
      // the rotation is audited, and the checkpoint signed with it already names version 2
      const audited = await callTarget(t.url, 'Keyward.ListAuditRecords', { Op: 'RotateAuditCheckpointKey' }, { token: t.admin.token });
      expect((audited.body.Records as Array<{ result: string; principal: string }>).map((r) => r.result)).toEqual(['AccessDeniedException', 'OK']);
      for (let i = 0; i < 3; i++) await t.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('after') }));
      expect(await newestCheckpoint(store, 'cpkey')).toMatchObject({ keyVersion: 2, keyFingerprint: made.Fingerprint });

      const after = JSON.parse((await keyward(['audit', 'checkpoint-keys'], env)).stdout) as KeyList;
      // the same over gRPC (keyward.v1.Audit)
      const audit = grpcClient(loadProto(['keyward/v1/audit.proto']), 'keyward.v1.Audit', t.server.grpcAddress!, { token: t.admin.token });
      try {
        const listed = await audit.ListAuditPublicKeys!({});
        expect(Number(listed.active_version)).toBe(2);
        expect((listed.keys as Array<{ fingerprint: string }>).map((k) => k.fingerprint)).toEqual([v1.Keys[0]!.Fingerprint, made.Fingerprint]);
      } finally {
        audit.close();
      }
      expect(after.ActiveVersion).toBe(2);
      expect(after.Keys.map((k) => [k.Version, k.Fingerprint, k.Active])).toEqual([[1, v1.Keys[0]!.Fingerprint, false], [2, made.Fingerprint, true]]);
      expect(after.Keys[0]!.Retired).not.toBeNull();
      expect(after.Keys[0]!.PublicKey).toBe(v1.Keys[0]!.PublicKey);
      // the server verifies the whole store with every version; so does an auditor with the export
      expect(await verifyAudit(t.url, { token: t.admin.token })).toMatchObject({ ok: true });
      const allJson = join(dir, 'keys.json');
      writeFileSync(allJson, JSON.stringify(after));
      const allPem = join(dir, 'keys.pem');
      const pems = await keyward(['audit', 'checkpoint-keys', '--pem'], env);
      expect(pems.stdout.match(/BEGIN PUBLIC KEY/g)).toHaveLength(2);
      writeFileSync(allPem, pems.stdout);
      const viaServer = await callTarget(t.url, 'Keyward.VerifyAudit', { PublicKey: pems.stdout }, { token: t.admin.token });
      expect(viaServer.body).toMatchObject({ ok: true });
      const viaServerOld = await callTarget(t.url, 'Keyward.VerifyAudit', { PublicKey: v1.Keys[0]!.PublicKey }, { token: t.admin.token });
      expect(viaServerOld.body).toMatchObject({ ok: false, firstBreak: { kind: 'unknown-checkpoint-key' } });

      // restarted, the node signs with version 2 again (its private key is in the store, under the barrier)
      await t.close();
      t = await startTestServer({ dataDir, init: false, admin: t.admin, config });
      expect((await fetch(`${t.url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: TEST_PASSPHRASE }) })).status).toBe(200);
      for (let i = 0; i < 3; i++) await t.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('restarted') }));
      expect(await newestCheckpoint(t.server.installation.store, 'cpkey')).toMatchObject({ keyVersion: 2, keyFingerprint: made.Fingerprint });
      await t.close();
      t = undefined;

      // offline: the file holds checkpoints of both versions; every version's keys verify it ...
      const cps = readFileSync(sink, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; keyVersion?: number }).filter((e) => e.type === 'checkpoint');
      expect(new Set(cps.map((c) => c.keyVersion))).toEqual(new Set([1, 2]));
      for (const keys of [allJson, allPem]) {
        const ok = await keyward(['audit', 'verify', '--file', sink, '--public-key', keys], {});
        expect(ok.code, ok.stderr).toBe(0);
        expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, chains: [{ signaturesChecked: true }] });
      }
      // ... and with only the old key, the first checkpoint of version 2 is an unknown key: named, with where to get it
      const partial = await keyward(['audit', 'verify', '--file', sink, '--public-key', v1Pem], {});
      expect(partial.code).toBe(3);
      const report = JSON.parse(partial.stdout) as { firstBreak: { kind: string; message: string } };
      expect(report.firstBreak.kind).toBe('unknown-checkpoint-key');
      expect(report.firstBreak.message).toContain(`fingerprint ${made.Fingerprint.slice(0, 16)}`);
      expect(report.firstBreak.message).toContain('keyward audit checkpoint-keys');
      // a key file that is not one is refused, naming the flag
      writeFileSync(join(dir, 'bad.pem'), 'not a key');
      const bad = await keyward(['audit', 'verify', '--file', sink, '--public-key', join(dir, 'bad.pem')], {});
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/--public-key .*no PEM public key/);
    } finally {
      await t?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('with --workers 2: a rotation through one worker is followed by the other', async () => {
    const dir = tempDir('keyward-cpkey-workers-');
    const dataDir = join(dir, 'data');
    const fast = { KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1', KEYWARD_LOG_LEVEL: 'warn' };
    const init = await keyward(['init', '--data-dir', dataDir, '--json'], { ...fast, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    expect(init.code, init.stderr).toBe(0);
    const token = (JSON.parse(init.stdout) as { token: string }).token;
    const server = await spawnKeyward(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--workers', '2'], { ...fast, KEYWARD_PASSPHRASE: TEST_PASSPHRASE, KEYWARD_AUDIT_CHECKPOINT_RECORDS: '1' });
    const store = new SqliteStore(join(dataDir, 'keyward.db'));
    try {
      // a new connection per call: the primary hands them to the workers in turn
      const call = async (target: string) => {
        const res = await fetch(`${server.url}/`, { method: 'POST', headers: { connection: 'close', 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target, authorization: `Bearer ${token}` }, body: '{}' });
        return await res.json() as Record<string, unknown>;
      };
      const versionsByChain = async () => {
        const seen = new Map<string, number>();
        for (let i = 0; i < 6; i++) {
          const r = await call('Keyward.GetAuditPublicKey');
          seen.set(String(r.Chain), Number(r.KeyVersion));
        }
        return seen;
      };
      const first = await versionsByChain();
      expect([...first.values()]).toEqual([1, 1]);
      const rotated = await call('Keyward.RotateAuditCheckpointKey');
      expect(rotated).toMatchObject({ Version: 2 });
      // both workers sign with version 2 soon (each follows the store's change)
      const after = await pollUntil(versionsByChain, (m) => m.size === 2 && [...m.values()].every((v) => v === 2), 'both workers on checkpoint key version 2', 30_000);
      for (const chain of after.keys()) {
        await pollUntil(() => newestCheckpoint(store, chain), (c) => c?.keyVersion === 2 && c.keyFingerprint === rotated.Fingerprint, `a checkpoint of ${chain} signed by version 2`, 30_000);
      }
      const verified = await call('Keyward.VerifyAudit');
      expect(verified).toMatchObject({ ok: true });
    } finally {
      await store.close();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it.skipIf(!available)('on PostgreSQL: a rotation on one node is followed by the other, and both verify every chain', async () => {
    const db = await createTestDatabase('audit_cpkey');
    const bDir = tempDir();
    let a: TestServer | undefined;
    let b: TestServer | undefined;
    try {
      const common = { store: db.url, auditCheckpointRecords: 1 };
      a = await startTestServer({ config: { ...common, nodeId: 'node-a' } });
      b = await startTestServer({ dataDir: bDir, init: false, admin: a.admin, config: { ...common, nodeId: 'node-b' } });
      expect((await fetch(`${b.url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: TEST_PASSPHRASE }) })).status).toBe(200);
      const auth = { token: a.admin.token };
      await b.kms.send(new CreateKeyCommand({}));
      expect(await newestCheckpoint(b.server.installation.store, 'node-b')).toMatchObject({ keyVersion: 1 });

      const rotated = await callTarget(a.url, 'Keyward.RotateAuditCheckpointKey', {}, auth);
      expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
      const fingerprint = rotated.body.Fingerprint as string;
      // node B learns of version 2 from the store's change notification: its next checkpoints name it
      await pollUntil(() => callTarget(b!.url, 'Keyward.GetAuditPublicKey', {}, auth), (r) => r.body.KeyVersion === 2, 'node B on version 2', 30_000);
      await b.kms.send(new CreateKeyCommand({}));
      expect(await newestCheckpoint(b.server.installation.store, 'node-b')).toMatchObject({ keyVersion: 2, keyFingerprint: fingerprint });
      const listed = await callTarget(b.url, 'Keyward.ListAuditPublicKeys', {}, auth);
      expect((listed.body as unknown as KeyList).Keys.map((k) => k.Version)).toEqual([1, 2]);
      // a second rotation from B: A follows too
      const again = await callTarget(b.url, 'Keyward.RotateAuditCheckpointKey', {}, auth);
      expect(again.body).toMatchObject({ Version: 3, PreviousVersion: 2 });
      await pollUntil(() => callTarget(a!.url, 'Keyward.GetAuditPublicKey', {}, auth), (r) => r.body.KeyVersion === 3, 'node A on version 3', 30_000);
      for (const node of [a, b]) expect(await verifyAudit(node.url, auth)).toMatchObject({ ok: true });
    } finally {
      await b?.close();
      await a?.close();
      await db.drop();
      rmSync(bDir, { recursive: true, force: true });
    }
  }, 120_000);
});
