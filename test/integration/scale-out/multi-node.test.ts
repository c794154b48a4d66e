import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateAliasCommand, CreateKeyCommand, DecryptCommand, ListKeysCommand, UpdateAliasCommand, DescribeKeyCommand, DisableKeyCommand, EnableKeyCommand, EncryptCommand,
  RotateKeyOnDemandCommand, type KMSClient,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBlobHeader } from '../../../src/format/index.js';
import { errorOf } from '../../helpers/errors.js';
import { callTarget } from '../../helpers/keyward-api.js';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../../helpers/postgres.js';
import { keyward, spawnKeyward, type KeywardProcess } from '../../helpers/process.js';
import { kmsClient, tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';

const available = await postgresAvailable();
const FAST = { KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1', KEYWARD_LOG_LEVEL: 'warn' };
const text = (s: string) => new TextEncoder().encode(s);

interface Node { readonly name: string; proc: KeywardProcess; kms: KMSClient }

/** Polls until check passes; returns how long it took (or throws after timeoutMs). */
async function within(timeoutMs: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`not seen within ${timeoutMs} ms`);
    await sleep(20);
  }
}

async function versions(node: Node, creds: { accessKeyId: string; secretAccessKey: string }, keyId: string) {
  const r = await callTarget(node.proc.url, 'Keyward.ListKeyVersions', { KeyId: keyId }, creds);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body as { PrimaryVersion: number; Versions: Array<{ Version: number; Primary: boolean; State: string }> };
}

describe.runIf(available)('three Keyward processes on one PostgreSQL database', () => {
  let db: TestDatabase;
  const dataDir = tempDir('keyward-multi-');
  const nodes: Node[] = [];
  let creds: { accessKeyId: string; secretAccessKey: string };
  const node = (i: number) => nodes[i]!;

  const start = async (name: string): Promise<Node> => {
    const proc = await spawnKeyward(['server', '--store', db.url, '--data-dir', dataDir, '--listen', '127.0.0.1:0'], { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    return { name, proc, kms: kmsClient(proc.url, creds) };
  };

  beforeAll(async () => {
    db = await createTestDatabase('multi');
    const init = await keyward(['init', '--store', db.url, '--data-dir', dataDir, '--json'], { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    expect(init.code, init.stderr).toBe(0);
    const c = JSON.parse(init.stdout) as { access_key_id: string; secret_access_key: string };
    creds = { accessKeyId: c.access_key_id, secretAccessKey: c.secret_access_key };
    // each node unseals itself with the same passphrase
    nodes.push(...await Promise.all(['A', 'B', 'C'].map(start)));
  });

  afterAll(async () => {
    for (const n of nodes) {
      n.kms.destroy();
      await n.proc.stop();
    }
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a key created on A encrypts on B and decrypts on C', async () => {
    const key = await node(0).kms.send(new CreateKeyCommand({ Description: 'made on A' }));
    const enc = await node(1).kms.send(new EncryptCommand({ KeyId: key.KeyMetadata!.KeyId, Plaintext: text('across nodes'), EncryptionContext: { n: '1' } }));
    const dec = await node(2).kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { n: '1' } }));
    expect(new TextDecoder().decode(dec.Plaintext)).toBe('across nodes');
    expect(dec.KeyId).toBe(key.KeyMetadata!.Arn);
  });

  it('a rotation on B is used by A within one second (A had the old version cached)', async () => {
    const key = await node(0).kms.send(new CreateKeyCommand({}));
    const keyId = key.KeyMetadata!.KeyId!;
    const versionOnA = async () => readBlobHeader((await node(0).kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: text('x') }))).CiphertextBlob!).version;
    expect(await versionOnA()).toBe(1); // warm on A
    await node(1).kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    const took = await within(1000, async () => (await versionOnA()) === 2);
    expect(took).toBeLessThanOrEqual(1000);
  });

  it('concurrent RotateKeyOnDemand on all three nodes leaves exactly one primary and every version complete', async () => {
    const key = await node(0).kms.send(new CreateKeyCommand({}));
    const keyId = key.KeyMetadata!.KeyId!;
    // warm every node, then rotate everywhere at once, several times
    await Promise.all(nodes.map((n) => n.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: text('warm') }))));
    const results = await Promise.allSettled(nodes.flatMap((n) => [1, 2].map(() => n.kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId })))));
    const succeeded = results.filter((r) => r.status === 'fulfilled').length;
    for (const r of results) if (r.status === 'rejected') expect((r.reason as Error).name).toBe('ConflictException');
    expect(succeeded).toBeGreaterThan(0);
    for (const n of nodes) {
      const v = await versions(n, creds, keyId);
      expect(v.Versions.filter((x) => x.Primary)).toHaveLength(1);
      expect(v.Versions.map((x) => x.Version)).toEqual(Array.from({ length: 1 + succeeded }, (_, i) => i + 1));
      expect(v.PrimaryVersion).toBe(1 + succeeded);
    }
    // every version decrypts what it encrypted, on every node (material exists for all)
    await within(1000, async () => {
      const blobs = await Promise.all(nodes.map((n) => n.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: text('after') }))));
      return blobs.every((b) => readBlobHeader(b.CiphertextBlob!).version === 1 + succeeded);
    });
  });

  it('disabling a key on one node refuses Encrypt on the others within one second; enabling brings it back', async () => {
    const key = await node(0).kms.send(new CreateKeyCommand({}));
    const keyId = key.KeyMetadata!.KeyId!;
    await Promise.all(nodes.map((n) => n.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: text('warm') }))));
    await node(2).kms.send(new DisableKeyCommand({ KeyId: keyId }));
    for (const other of [node(0), node(1)]) {
      await within(1000, async () => {
        try {
          await other.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: text('refused?') }));
          return false;
        } catch (e) {
          expect((e as Error).name).toBe('DisabledException');
          return true;
        }
      });
    }
    await node(1).kms.send(new EnableKeyCommand({ KeyId: keyId }));
    await within(1000, async () => {
      const r = await Promise.allSettled([node(0), node(2)].map((n) => n.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: text('back') }))));
      return r.every((x) => x.status === 'fulfilled');
    });
  });

  it('an alias moved on A is followed by B, and a principal deleted on C is refused by A, within one second', async () => {
    const k1 = (await node(0).kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const k2 = (await node(0).kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    await node(0).kms.send(new CreateAliasCommand({ AliasName: 'alias/moving', TargetKeyId: k1.KeyId }));
    const keyOfAliasOnB = async () => readBlobHeader((await node(1).kms.send(new EncryptCommand({ KeyId: 'alias/moving', Plaintext: text('a') }))).CiphertextBlob!).keyId;
    expect(await keyOfAliasOnB()).toBe(k1.KeyId); // warm on B
    await node(0).kms.send(new UpdateAliasCommand({ AliasName: 'alias/moving', TargetKeyId: k2.KeyId }));
    await within(1000, async () => (await keyOfAliasOnB()) === k2.KeyId);

    const created = await callTarget(node(2).proc.url, 'Keyward.CreatePrincipal', { Name: 'leaving', Role: 'user' }, creds);
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const c = created.body.Credentials as { AccessKeyId: string; SecretAccessKey: string };
    const app = kmsClient(node(0).proc.url, { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey });
    try {
      await within(1000, async () => (await app.send(new EncryptCommand({ KeyId: k2.KeyId, Plaintext: text('ok') })).then(() => true, () => false)));
      expect((await callTarget(node(2).proc.url, 'Keyward.DeletePrincipal', { Name: 'leaving' }, creds)).status).toBe(200);
      await within(1000, async () => {
        const e = await app.send(new EncryptCommand({ KeyId: k2.KeyId, Plaintext: text('no') })).then(() => undefined, (err: Error) => err);
        if (e === undefined) return false;
        expect(e.name).toBe('UnrecognizedClientException');
        return true;
      });
    } finally {
      app.destroy();
    }
  });

  it('SIGKILL of one node during a load: the other two keep serving and no acknowledged key or version is lost', async () => {
    const acknowledged: Array<{ keyId: string; blobs: Uint8Array[]; rotations: number }> = [];
    let stop = false;
    let failuresOnSurvivors = 0;
    const worker = async (n: Node, survivor: boolean) => {
      while (!stop) {
        try {
          const key = await n.kms.send(new CreateKeyCommand({ Description: `load on ${n.name}` }));
          const entry = { keyId: key.KeyMetadata!.KeyId!, blobs: [] as Uint8Array[], rotations: 0 };
          acknowledged.push(entry);
          entry.blobs.push((await n.kms.send(new EncryptCommand({ KeyId: entry.keyId, Plaintext: text(entry.keyId) }))).CiphertextBlob!);
          await n.kms.send(new RotateKeyOnDemandCommand({ KeyId: entry.keyId }));
          entry.rotations++;
          entry.blobs.push((await n.kms.send(new EncryptCommand({ KeyId: entry.keyId, Plaintext: text(entry.keyId) }))).CiphertextBlob!);
        } catch (e) {
          if (survivor) {
            failuresOnSurvivors++;
            throw e;
          }
          return; // the killed node's requests fail; nothing it did not acknowledge counts
        }
      }
    };
    const victim = node(2);
    const load = [
      worker(node(0), true), worker(node(0), true), worker(node(1), true), worker(node(1), true),
      worker(victim, false), worker(victim, false),
    ];
    await sleep(700);
    victim.proc.proc.kill('SIGKILL');
    expect(await victim.proc.stop()).toBeNull(); // killed by the signal, no clean exit
    const afterKill = acknowledged.length;
    await sleep(700);
    stop = true;
    await Promise.all(load);
    expect(failuresOnSurvivors).toBe(0);
    expect(acknowledged.length).toBeGreaterThan(afterKill); // the survivors kept serving
    for (const entry of acknowledged) {
      for (const n of [node(0), node(1)]) {
        const d = await n.kms.send(new DescribeKeyCommand({ KeyId: entry.keyId }));
        expect(d.KeyMetadata!.Enabled).toBe(true);
        expect((await versions(n, creds, entry.keyId)).Versions.length).toBeGreaterThanOrEqual(1 + entry.rotations);
        for (const blob of entry.blobs) {
          const dec = await n.kms.send(new DecryptCommand({ CiphertextBlob: blob }));
          expect(new TextDecoder().decode(dec.Plaintext)).toBe(entry.keyId);
        }
      }
    }
    // every key in the database, acknowledged or not (the victim's last writes), is complete:
    // one primary version whose material exists (it encrypts), versions numbered without gaps
    const all: string[] = [];
    for (let marker: string | undefined; ;) {
      const page = await node(0).kms.send(new ListKeysCommand({ Limit: 1000, ...(marker ? { Marker: marker } : {}) }));
      all.push(...page.Keys!.map((k) => k.KeyId!));
      if (!page.Truncated) break;
      marker = page.NextMarker;
    }
    for (const id of all) {
      const v = await versions(node(1), creds, id);
      expect(v.Versions.filter((x) => x.Primary)).toHaveLength(1);
      expect(v.Versions.map((x) => x.Version)).toEqual(Array.from({ length: v.Versions.length }, (_, i) => i + 1));
      const blob = (await node(1).kms.send(new EncryptCommand({ KeyId: id, Plaintext: text('complete') }))).CiphertextBlob!;
      expect(readBlobHeader(blob).version).toBe(v.PrimaryVersion);
    }
    // the killed node comes back on the same database and sees everything
    victim.kms.destroy();
    nodes[2] = await start('C2');
    const last = acknowledged[acknowledged.length - 1]!;
    const dec = await node(2).kms.send(new DecryptCommand({ CiphertextBlob: last.blobs[0]! }));
    expect(new TextDecoder().decode(dec.Plaintext)).toBe(last.keyId);
    expect((await errorOf(node(2).kms.send(new DescribeKeyCommand({ KeyId: '00000000-0000-4000-8000-000000000000' })))).name).toBe('NotFoundException');
  });
});
