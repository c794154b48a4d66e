import {
  CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EnableKeyRotationCommand, EncryptCommand,
  GenerateDataKeyCommand, ListKeyRotationsCommand, ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { errorOf } from '../../helpers/errors.js';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../../helpers/postgres.js';
import { startTestServer, TEST_PASSPHRASE, type TestServer } from '../../helpers/server.js';
import { startTcpProxy, type TcpProxy } from '../../helpers/tcp-proxy.js';

const available = await postgresAvailable();

/** Three in-process nodes on one database, each with its own movable clock. */
describe.runIf(available)('nodes sharing one PostgreSQL database (in process)', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let nodes: TestServer[] = [];
  let proxiedUrl = '';

  beforeEach(async () => {
    db = await createTestDatabase('shared');
    proxy = await startTcpProxy('127.0.0.1', Number(new URL(db.url).port || 5432));
    const proxied = new URL(db.url);
    proxied.port = String(proxy.port);
    proxiedUrl = proxied.toString();
    const first = await startTestServer({ config: { store: db.url } });
    nodes = [first];
    for (const store of [db.url, proxied.toString()]) {
      const n = await startTestServer({ config: { store }, admin: first.admin });
      const r = await fetch(`${n.url}/v1/sys/unseal`, { method: 'POST', body: JSON.stringify({ passphrase: TEST_PASSPHRASE }) });
      expect(r.status).toBe(200);
      nodes.push(n);
    }
  });

  afterEach(async () => {
    for (const n of nodes) await n.close();
    await proxy.close();
    await db.drop();
  });

  const everyNode = (fn: (n: TestServer) => void) => nodes.forEach(fn);
  const tickAll = () => Promise.all(nodes.map((n) => n.server.installation.keyring.scheduler.tick()));

  it('automatic rotation happens once, not once per node', async () => {
    const k = (await nodes[0]!.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    await nodes[1]!.kms.send(new EnableKeyRotationCommand({ KeyId: k.KeyId, RotationPeriodInDays: 90 }));
    everyNode((n) => n.advanceDays(91));
    const reports = await tickAll();
    expect(reports.reduce((s, r) => s + r.rotated, 0)).toBe(1);
    await tickAll();
    const rotations = (await nodes[2]!.kms.send(new ListKeyRotationsCommand({ KeyId: k.KeyId }))).Rotations!;
    expect(rotations.map((r) => r.RotationType)).toEqual(['AUTOMATIC']);
  });

  it('deletion at the end of the pending window happens once, and every node then refuses the key', async () => {
    const k = (await nodes[0]!.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    await nodes[2]!.kms.send(new ScheduleKeyDeletionCommand({ KeyId: k.KeyId, PendingWindowInDays: 7 }));
    everyNode((n) => n.advanceDays(8));
    const reports = await tickAll();
    expect(reports.reduce((s, r) => s + r.deleted, 0)).toBe(1);
    for (const n of nodes) expect((await errorOf(n.kms.send(new DescribeKeyCommand({ KeyId: k.KeyId })))).name).toBe('NotFoundException');
  });

  it('the warm hot path (Encrypt, Decrypt, GenerateDataKey) makes no database round trip', async () => {
    // The audit log is written to the store by design (group commit, fail closed): this node runs
    // with auditing off so that the proxy sees key-state traffic only.
    const node = await startTestServer({ config: { store: proxiedUrl, audit: 'off' }, admin: nodes[0]!.admin });
    nodes.push(node);
    const unseal = await fetch(`${node.url}/v1/sys/unseal`, { method: 'POST', body: JSON.stringify({ passphrase: TEST_PASSPHRASE }) });
    expect(unseal.status).toBe(200);
    const k = (await nodes[0]!.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const blob = (await node.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('warm') }))).CiphertextBlob!;
    await node.kms.send(new DecryptCommand({ CiphertextBlob: blob }));
    await node.kms.send(new GenerateDataKeyCommand({ KeyId: k.KeyId, KeySpec: 'AES_256' }));
    const before = proxy.bytes;
    for (let i = 0; i < 50; i++) {
      const b = (await node.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from(`m${i}`) }))).CiphertextBlob!;
      await node.kms.send(new DecryptCommand({ CiphertextBlob: b }));
      await node.kms.send(new GenerateDataKeyCommand({ KeyId: k.KeyId, KeySpec: 'AES_256' }));
    }
    expect(proxy.bytes - before).toBe(0);
    // the proxy does carry this node's traffic: a cold read goes through it
    await node.kms.send(new DescribeKeyCommand({ KeyId: (await nodes[0]!.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId }));
    expect(proxy.bytes).toBeGreaterThan(before);
  });

  it('with the database unreachable a node answers 503 DependencyTimeoutException fast, then recovers by itself', async () => {
    const node = nodes[2]!;
    const k = (await nodes[0]!.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    await node.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('x') }));
    await proxy.cut();
    const started = Date.now();
    // caches are dropped as soon as the node cannot hear other nodes' changes: it fails closed
    let err: unknown;
    while (err === undefined && Date.now() - started < 1000) {
      err = await node.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('x') })).then(() => undefined, (e: unknown) => e);
    }
    expect((err as { name: string }).name).toBe('DependencyTimeoutException');
    expect((err as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(503);
    expect(Date.now() - started).toBeLessThan(5000);
    await proxy.restore();
    for (let i = 0; ; i++) {
      try {
        await node.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('back') }));
        break;
      } catch (e) {
        if (i > 100) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });
});
