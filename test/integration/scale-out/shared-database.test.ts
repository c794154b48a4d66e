import {
  CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EnableKeyRotationCommand, EncryptCommand,
  GenerateDataKeyCommand, ListKeyRotationsCommand, ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { errorOf } from '../../helpers/errors.js';
import { createTestDatabase, dbQuery, postgresAvailable, type TestDatabase } from '../../helpers/postgres.js';
import { startTestServer, TEST_PASSPHRASE, type TestServer } from '../../helpers/server.js';
import { sysCall } from '../../helpers/seal.js';
import { eventually } from '../../helpers/wait.js';
import { startTcpProxy, type ProxiedConnection, type TcpProxy } from '../../helpers/tcp-proxy.js';

const available = await postgresAvailable();
/** How long nodes may follow a root rotation through the successor record (short for the test). */
const GRACE_MS = 1000;

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
    const first = await startTestServer({ config: { store: db.url, rootRotationGraceMs: GRACE_MS } });
    nodes = [first];
    // the third node reaches the database through the proxy; its audit log is off, so that what
    // crosses the proxy is key state only (with audit on, each request batch writes its records)
    for (const config of [{ store: db.url }, { store: proxiedUrl, audit: 'off' }]) {
      const n = await startTestServer({ config: { ...config, rootRotationGraceMs: GRACE_MS }, admin: first.admin });
      const r = await fetch(`${n.url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: TEST_PASSPHRASE }) });
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
    const node = nodes[2]!; // behind the byte-counting proxy, audit log off
    const k = (await nodes[0]!.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const blob = (await node.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('warm') }))).CiphertextBlob!;
    await node.kms.send(new DecryptCommand({ CiphertextBlob: blob }));
    await node.kms.send(new GenerateDataKeyCommand({ KeyId: k.KeyId, KeySpec: 'AES_256' }));
    // A round trip is an answer from the database on one of the node's query connections. The
    // change listener's connection is not one: its heartbeat (`SELECT 1` every second, 80 bytes
    // a time) runs whatever the requests do, and is what made this test see 80 or 160 bytes on a
    // loaded machine where the 150 calls took longer than a second.
    const isListener = (c: ProxiedConnection) => c.hello.includes('keyward-listen');
    const answered = (listener = false) => proxy.connections.filter((c) => isListener(c) === listener).reduce((n, c) => n + c.answered, 0);
    const before = answered();
    for (let i = 0; i < 50; i++) {
      if (i === 25) {
        // halfway, wait for a heartbeat, as a loaded machine would: it must not count
        const heard = answered(true);
        expect(await eventually(() => answered(true) > heard, 10_000, 50)).toBe(true);
      }
      const b = (await node.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from(`m${i}`) }))).CiphertextBlob!;
      await node.kms.send(new DecryptCommand({ CiphertextBlob: b }));
      await node.kms.send(new GenerateDataKeyCommand({ KeyId: k.KeyId, KeySpec: 'AES_256' }));
    }
    expect(answered() - before).toBe(0);
    // the proxy does carry this node's queries: a cold read goes through it and is counted
    await node.kms.send(new DescribeKeyCommand({ KeyId: (await nodes[0]!.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId }));
    expect(answered()).toBeGreaterThan(before);
  });

  it('with the database unreachable a node answers 503 DependencyTimeoutException fast, then recovers by itself', async () => {
    const node = nodes[2]!;
    const k = (await nodes[0]!.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    await node.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('x') }));
    await proxy.cut();
    const started = Date.now();
    // caches are dropped as soon as the node cannot hear other nodes' changes: it fails closed
    let err: unknown;
    while (err === undefined && Date.now() - started < 3000) {
      err = await node.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('x') })).then(() => undefined, (e: unknown) => e);
    }
    // the store's own error, or the audit log's when the failed request cannot be recorded either
    expect(['DependencyTimeoutException', 'AuditUnavailableException']).toContain((err as { name: string }).name);
    expect((err as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(503);
    expect(Date.now() - started).toBeLessThan(5000);
    // a load balancer's health check sees it too, and routes around the node
    expect((await fetch(`${node.url}/v1/sys/health`)).status).toBe(503);
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
    expect((await fetch(`${node.url}/v1/sys/health`)).status).toBe(200);
  });

  it('a barrier rotation on one node is followed by the others: records under the new term read and write everywhere', async () => {
    const token = nodes[0]!.admin.token;
    const warm = (await nodes[1]!.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    await Promise.all(nodes.map((n) => n.kms.send(new EncryptCommand({ KeyId: warm.KeyId, Plaintext: Buffer.from('warm') }))));
    const rotated = await sysCall(nodes[0]!.url, 'POST', 'rotate-barrier', {}, token);
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    // a key written by node 0 under the new term is usable at once on the others
    const k = (await nodes[0]!.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const blob = (await nodes[1]!.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('new term') }))).CiphertextBlob!;
    expect(Buffer.from((await nodes[2]!.kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe('new term');
    // and the others write under it too
    const k2 = (await nodes[2]!.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    await nodes[0]!.kms.send(new EncryptCommand({ KeyId: k2.KeyId, Plaintext: Buffer.from('x') }));
    const terms = (s: { body: Record<string, unknown> }) => (s.body.barrier as { activeTerm: number }).activeTerm;
    const active = terms(await sysCall(nodes[0]!.url, 'GET', 'seal-status', undefined, token));
    for (const n of nodes) expect(terms(await sysCall(n.url, 'GET', 'seal-status', undefined, token))).toBe(active);
  });

  it('a root-key rotation on one node is followed by the others within one second; a barrier rotation after it too', async () => {
    const token = nodes[0]!.admin.token;
    const k = (await nodes[0]!.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const blob = (await nodes[1]!.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('before') }))).CiphertextBlob!;
    const r = await sysCall(nodes[0]!.url, 'POST', 'rotate-root', { passphrase: TEST_PASSPHRASE }, token);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    // the keyring now opens only with the new root key: a barrier rotation is readable on the
    // other nodes only if they followed the root rotation
    expect((await sysCall(nodes[0]!.url, 'POST', 'rotate-barrier', {}, token)).status).toBe(200);
    const underNewTerm = (await nodes[0]!.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('new term') }))).CiphertextBlob!;
    const started = Date.now();
    for (const n of [nodes[1]!, nodes[2]!]) {
      for (;;) {
        const out = await n.kms.send(new DecryptCommand({ CiphertextBlob: underNewTerm })).then((o) => Buffer.from(o.Plaintext!).toString(), () => undefined);
        if (out === 'new term') break;
        if (Date.now() - started > 1000) throw new Error('a node did not follow the rotations within 1 s');
        await new Promise((res) => setTimeout(res, 20));
      }
      expect((await sysCall(n.url, 'GET', 'seal-status')).body.sealed).toBe(false);
      expect(Buffer.from((await n.kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe('before');
    }
  });

  it('a node that missed a root rotation past the grace period seals itself (fails closed); unsealing again works', async () => {
    const token = nodes[0]!.admin.token;
    const k = (await nodes[0]!.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const blob = (await nodes[0]!.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('before') }))).CiphertextBlob!;
    await proxy.cut(); // node 2 hears nothing
    expect((await sysCall(nodes[0]!.url, 'POST', 'rotate-root', { passphrase: TEST_PASSPHRASE }, token)).status).toBe(200);
    await new Promise((res) => setTimeout(res, GRACE_MS + 500)); // the successor record is deleted
    await proxy.restore();
    const started = Date.now();
    while ((await sysCall(nodes[2]!.url, 'GET', 'seal-status')).body.sealed !== true) {
      if (Date.now() - started > 10_000) throw new Error('node 2 still unsealed 10 s after the database came back');
      await new Promise((res) => setTimeout(res, 50));
    }
    expect((await sysCall(nodes[2]!.url, 'POST', 'unseal', { passphrase: TEST_PASSPHRASE })).body.sealed).toBe(false);
    expect(Buffer.from((await nodes[2]!.kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe('before');
  });

  it('the database is untrusted: a key row edited or swapped in PostgreSQL is IntegrityException on a node that reads it', async () => {
    const a = (await nodes[0]!.kms.send(new CreateKeyCommand({ Description: 'A' }))).KeyMetadata!;
    const b = (await nodes[0]!.kms.send(new CreateKeyCommand({ Description: 'B' }))).KeyMetadata!;
    const keyRow = (id: string) => `keys/default/${id}`;
    const rows = await dbQuery(db.url, 'SELECT key, value FROM keyward_kv WHERE key = ANY($1)', [[keyRow(a.KeyId!), keyRow(b.KeyId!)]]);
    expect(rows.rows).toHaveLength(2);
    // swap the two records (each is valid, but sealed for its own path) and edit nothing else
    const [ra, rb] = [rows.rows.find((r: { key: string }) => r.key === keyRow(a.KeyId!)), rows.rows.find((r: { key: string }) => r.key === keyRow(b.KeyId!))];
    await dbQuery(db.url, 'UPDATE keyward_kv SET value = $2 WHERE key = $1', [keyRow(a.KeyId!), rb.value]);
    const edited = Buffer.from(ra.value as Buffer);
    edited[edited.length - 1]! ^= 1;
    await dbQuery(db.url, 'UPDATE keyward_kv SET value = $2 WHERE key = $1', [keyRow(b.KeyId!), edited]);
    for (const id of [a.KeyId!, b.KeyId!]) {
      // node 1 never cached these keys: it reads the rows as they now are
      expect((await errorOf(nodes[1]!.kms.send(new DescribeKeyCommand({ KeyId: id })))).name).toBe('IntegrityException');
    }
  });
});
