import { CreateKeyCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../../helpers/postgres.js';
import { capturingLogger, startTestServer, type TestServer } from '../../helpers/server.js';
import { startTcpProxy, type TcpProxy } from '../../helpers/tcp-proxy.js';
import { eventually } from '../../helpers/wait.js';

const available = await postgresAvailable();
/** The store deadline for this test (the default is 2000 ms). */
const STORE_TIMEOUT_MS = 1000;

/**
 * A silent network partition between a node and PostgreSQL: the proxy stops forwarding without
 * closing anything (no FIN, no RST), as a dropped route or a firewall would. Never the shared
 * PostgreSQL itself.
 */
describe.runIf(available)('a node whose PostgreSQL goes silent', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let node: TestServer;
  const { log, lines } = capturingLogger();

  beforeAll(async () => {
    db = await createTestDatabase('partition');
    proxy = await startTcpProxy('127.0.0.1', Number(new URL(db.url).port || 5432));
    const proxied = new URL(db.url);
    proxied.port = String(proxy.port);
    node = await startTestServer({ config: { store: proxied.toString(), storeTimeoutMs: STORE_TIMEOUT_MS }, log });
  });
  afterAll(async () => {
    await node?.close();
    await proxy?.close();
    await db?.drop();
  });

  const timed = async <T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> => {
    const started = performance.now();
    const value = await fn();
    return { ms: performance.now() - started, value };
  };
  const encrypt = (keyId: string) => node.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }))
    .then(() => 'OK', (e: { name: string; $metadata?: { httpStatusCode?: number } }) => `${e.$metadata?.httpStatusCode ?? '?'} ${e.name}`);
  const auditLines = (start: string) => lines.filter((l) => l.msg.startsWith(start)).length;

  it('fails requests within the store deadline, answers health from what it knows, logs the audit failure once, and recovers by itself', async () => {
    const keyId = (await node.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    expect(await encrypt(keyId)).toBe('OK');
    proxy.freeze();

    // before: 24 s for the first request (a 12 s statement timeout, then a ROLLBACK over the same silent link)
    const first = await timed(() => encrypt(keyId));
    expect(first.value).toMatch(/^503 (DependencyTimeoutException|AuditUnavailableException)$/);
    expect(first.ms).toBeLessThan(5 * STORE_TIMEOUT_MS);

    // before: 5.9 s, a store read; now from state the node has
    const health = await timed(async () => {
      const res = await fetch(`${node.url}/v1/sys/health`);
      return { status: res.status, body: await res.json() as Record<string, unknown> };
    });
    expect(health.value.status).toBe(503);
    expect(health.value.body).toMatchObject({ initialized: true, sealed: false, store: 'unreachable' });
    expect(health.ms).toBeLessThan(2000);

    // every later request is bounded too (once the listener has lost the database as well, at once)
    for (let i = 0; i < 5; i++) {
      const r = await timed(() => encrypt(keyId));
      expect(r.value).toMatch(/^503 /);
      expect(r.ms).toBeLessThan(5 * STORE_TIMEOUT_MS);
    }
    // the audit log's checkpoint retries run every second meanwhile: still one line
    expect(await eventually(() => lines.some((l) => l.msg === 'the audit log cannot write: every request is refused until it can (retrying; summarised every minute)'), 5000)).toBe(true);
    await new Promise((r) => setTimeout(r, 2500));
    expect(auditLines('the audit log cannot write')).toBe(1);
    expect(auditLines('the audit log still cannot write')).toBe(0);
    // a minute later (by the node's clock) a summary, still not a line per attempt
    node.advanceDays(61 / 86_400);
    expect(await eventually(() => auditLines('the audit log still cannot write') === 1, 10_000)).toBe(true);
    const summary = lines.find((l) => l.msg === 'the audit log still cannot write')!;
    expect(summary.failures).toBeGreaterThanOrEqual(2);
    expect(auditLines('the audit log cannot write')).toBe(1);

    // the network comes back (the silent connections are reset): the node serves again by itself
    await proxy.cut();
    await proxy.restore();
    expect(await eventually(async () => (await encrypt(keyId)) === 'OK', 20_000, 100)).toBe(true);
    expect(await eventually(async () => (await fetch(`${node.url}/v1/sys/health`)).status === 200, 10_000, 100)).toBe(true);
    expect(await eventually(() => auditLines('the audit log writes again') === 1, 10_000)).toBe(true);
  }, 90_000);
});
