import { EncryptCommand, CreateKeyCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturingLogger, startTestServer, TEST_PASSPHRASE, type TestServer } from '../../helpers/server.js';
import { eventually } from '../../helpers/wait.js';

/** The value of one sample line of a Prometheus text exposition (undefined when absent). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

const metrics = async (url: string) => (await fetch(`${url}/metrics`)).text();

describe('observability: metrics an operator alerts on', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ config: { nodeId: 'node-obs-1' } });
  });
  afterAll(() => t.close());

  it('exposes seal, store, audit, cache, barrier, per-tenant key and build gauges', async () => {
    const { KeyMetadata } = await t.kms.send(new CreateKeyCommand({}));
    for (let i = 0; i < 3; i++) await t.kms.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId!, Plaintext: Buffer.from('x') }));
    // key counts are read in the background within the scrape's budget: poll until they show
    let text = '';
    expect(await eventually(async () => (sample(text = await metrics(t.url), 'keyward_tenant_keys', { tenant: 'default' }) === 1), 20_000, 200)).toBe(true);
    expect(sample(text, 'keyward_sealed')).toBe(0);
    expect(sample(text, 'keyward_seal_type', { type: 'passphrase' })).toBe(1);
    expect(sample(text, 'keyward_seal_type', { type: 'static' })).toBe(0);
    expect(sample(text, 'keyward_store_up')).toBe(1);
    expect(sample(text, 'keyward_audit_backlog')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'keyward_audit_write_failures_total')).toBe(0);
    expect(sample(text, 'keyward_cache_lookups_total', { cache: 'key_metadata', result: 'hit' })).toBeGreaterThan(0);
    expect(sample(text, 'keyward_cache_entries', { cache: 'key_material' })).toBeGreaterThan(0);
    expect(sample(text, 'keyward_barrier_encryptions')).toBeGreaterThan(0);
    expect(sample(text, 'keyward_barrier_encryptions_limit')).toBe(3_500_000_000);
    expect(sample(text, 'keyward_build_info', { node: 'node-obs-1' })).toBe(1);
    expect(sample(text, 'keyward_store_duration_seconds_count', { call: 'batchWrite', outcome: 'ok' })).toBeGreaterThan(0);
    expect(sample(text, 'keyward_requests_total', { operation: 'Encrypt', code: 'OK' })).toBe(3);
  });

  it('keeps labels to closed sets: an unknown target from an unauthenticated caller is "unknown"', async () => {
    const res = await fetch(`${t.url}/`, { method: 'POST', headers: { 'x-amz-target': 'TrentService.Attacker_Chosen_Label_1', 'content-type': 'application/x-amz-json-1.1' }, body: '{}' });
    expect(res.status).toBe(400);
    const text = await metrics(t.url);
    expect(text).not.toContain('Attacker_Chosen_Label_1');
    expect(sample(text, 'keyward_requests_total', { operation: 'unknown', code: 'UnknownOperationException' })).toBeGreaterThanOrEqual(1);
  });

  it('reports sealed=1 after a seal, and the cache is emptied', async () => {
    const res = await fetch(`${t.url}/v1/sys/seal`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.admin.token}` } });
    expect(res.status).toBe(200);
    const text = await metrics(t.url);
    expect(sample(text, 'keyward_sealed')).toBe(1);
    expect(sample(text, 'keyward_cache_entries', { cache: 'key_material' })).toBe(0);
    const un = await fetch(`${t.url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: TEST_PASSPHRASE }) });
    expect(un.status).toBe(200);
  });
});

describe('observability: access log, request ids, failed unseals', () => {
  const capture = capturingLogger('info');
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ log: capture.log });
  });
  afterAll(() => t.close());

  it('writes one line per request with request id, principal, operation, key id, status and duration, and echoes the client request id', async () => {
    const { KeyMetadata } = await t.kms.send(new CreateKeyCommand({}));
    const keyId = KeyMetadata!.KeyId!;
    const plaintext = Buffer.from('top secret card 4111').toString('base64');
    const res = await fetch(`${t.url}/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.admin.token}`, 'x-amz-target': 'TrentService.Encrypt', 'content-type': 'application/x-amz-json-1.1', 'x-request-id': 'client-req-0042' },
      body: JSON.stringify({ KeyId: keyId, Plaintext: plaintext }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('client-req-0042');
    expect(res.headers.get('x-amzn-requestid')).toBe('client-req-0042');
    expect(await eventually(() => capture.lines.some((l) => l.msg === 'request' && l.requestId === 'client-req-0042'), 10_000)).toBe(true);
    const line = capture.lines.find((l) => l.msg === 'request' && l.requestId === 'client-req-0042')!;
    expect(line).toMatchObject({ level: 30, operation: 'Encrypt', keyId, status: 200, code: 'OK' });
    expect(String(line.principal)).toMatch(/^default\//);
    expect(typeof line.durationMs).toBe('number');

    // a request id that is not plain is replaced by the server's own
    const odd = await fetch(`${t.url}/v1/sys/seal-status`, { headers: { 'x-request-id': 'bad id\twith spaces' } });
    expect(odd.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

    // a refused request is logged too, with its error code and no principal
    const denied = await fetch(`${t.url}/`, {
      method: 'POST', headers: { authorization: 'Bearer nope', 'x-amz-target': 'TrentService.ListKeys', 'content-type': 'application/x-amz-json-1.1', 'x-request-id': 'client-req-0043' }, body: '{}',
    });
    expect(denied.status).toBeGreaterThanOrEqual(400);
    expect(await eventually(() => capture.lines.some((l) => l.requestId === 'client-req-0043' && l.msg === 'request'), 10_000)).toBe(true);
    const refused = capture.lines.find((l) => l.requestId === 'client-req-0043' && l.msg === 'request')!;
    expect(refused).toMatchObject({ operation: 'ListKeys', status: denied.status });
    expect(refused.principal).toBeUndefined();

    const all = capture.lines.map((l) => JSON.stringify(l)).join('\n');
    expect(all).not.toContain(plaintext);
    expect(all).not.toContain(t.admin.token);
    expect(all).not.toContain(t.admin.secretAccessKey);
  });

  it('logs a failed unseal at warn level, without the passphrase', async () => {
    await fetch(`${t.url}/v1/sys/seal`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.admin.token}` } });
    const res = await fetch(`${t.url}/v1/sys/unseal`, { method: 'POST', body: JSON.stringify({ passphrase: 'wrong passphrase guessed 123' }), headers: { 'content-type': 'application/json', 'x-request-id': 'unseal-try-1' } });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(await eventually(() => capture.lines.some((l) => l.msg === 'Unseal failed' && l.requestId === 'unseal-try-1'), 10_000)).toBe(true);
    expect(capture.lines.find((l) => l.msg === 'Unseal failed')).toMatchObject({ level: 40, operation: 'Unseal' });
    expect(JSON.stringify(capture.lines)).not.toContain('wrong passphrase guessed 123');
    expect((await fetch(`${t.url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: TEST_PASSPHRASE }) })).status).toBe(200);
  });
});

describe('observability: the access log can be switched off', () => {
  it('writes no request lines with accessLog=false, but still logs a failed unseal', async () => {
    const capture = capturingLogger('info');
    const t = await startTestServer({ log: capture.log, config: { accessLog: 'false' } });
    try {
      expect((await fetch(`${t.url}/v1/sys/seal-status`, { headers: { 'x-request-id': 'quiet-1' } })).headers.get('x-request-id')).toBe('quiet-1');
      await fetch(`${t.url}/v1/sys/seal`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.admin.token}` } });
      await fetch(`${t.url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: 'not it at all' }) });
      expect(await eventually(() => capture.lines.some((l) => l.msg === 'Unseal failed'), 10_000)).toBe(true);
      expect(capture.lines.filter((l) => l.msg === 'request')).toEqual([]);
    } finally {
      await t.close();
    }
  });
});

describe('observability: Vault health parameters', () => {
  it('answers sealedcode, uninitcode, activecode and accepts standbyok', async () => {
    const t = await startTestServer({ init: false });
    try {
      const health = (q: string) => fetch(`${t.url}/v1/sys/health${q}`);
      expect((await health('')).status).toBe(501);
      expect((await health('?uninitcode=200')).status).toBe(200);
      expect((await health('?uninitcode=abc')).status).toBe(400);
      const bad = await (await health('?sealedcode=99')).json() as { __type: string; message: string };
      expect(bad.__type).toBe('ValidationException');
      expect(bad.message).toContain('sealedcode');
      const init = await fetch(`${t.url}/v1/sys/init`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: TEST_PASSPHRASE }) });
      const { credentials } = await init.json() as { credentials: { token: string } };
      expect((await health('?standbyok=true')).status).toBe(200);
      expect((await health('?activecode=204')).status).toBe(204);
      await fetch(`${t.url}/v1/sys/seal`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${credentials.token}` } });
      expect((await health('')).status).toBe(503);
      expect((await health('?sealedcode=200&standbyok=true')).status).toBe(200);
      expect((await health('?standbyok=maybe')).status).toBe(400);
    } finally {
      await t.close();
    }
  });
});
