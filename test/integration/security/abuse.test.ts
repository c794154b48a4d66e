import { rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { callTarget } from '../../helpers/keyward-api.js';
import { capturingLogger, startTestServer, tempDir, TEST_PASSPHRASE, type TestServer } from '../../helpers/server.js';

/**
 * Issue 13 (items 3 and 4): guessing secrets from many source addresses, and unauthenticated
 * requests that cost memory (metric labels) and disk (audit records). Real server, real sockets;
 * the client binds other loopback addresses (127.0.x.y) to look like many sources.
 */

interface Answer { status: number; body: Record<string, unknown>; text: string }

function send(target: { url?: string; socketPath?: string }, options: { path: string; method?: string; from?: string; headers?: Record<string, string>; body?: string }): Promise<Answer> {
  const url = new URL(options.path, target.url ?? 'http://localhost');
  return new Promise((resolve, reject) => {
    const req = request({
      ...(target.socketPath !== undefined ? { socketPath: target.socketPath } : { host: url.hostname, port: url.port }),
      path: url.pathname,
      method: options.method ?? 'POST',
      headers: options.headers ?? {},
      ...(options.from !== undefined ? { localAddress: options.from } : {}),
      agent: false,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          // /metrics is text
        }
        resolve({ status: res.statusCode ?? 0, body, text });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const JSON_TYPE = { 'content-type': 'application/json' };

function sys(t: TestServer, path: string, from: string, body: Record<string, unknown>, token?: string): Promise<Answer> {
  return send({ url: t.url }, { path: `/v1/sys/${path}`, from, headers: { ...JSON_TYPE, ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
}

interface AuditRecordJson { seq: number; op: string; result: string; source: string; request: Record<string, string> }

/** Every record of this node's chain with `op` (paged). */
async function records(t: TestServer, op: string): Promise<AuditRecordJson[]> {
  const out: AuditRecordJson[] = [];
  let afterSeq = 0;
  for (;;) {
    const r = await callTarget(t.url, 'Keyward.ListAuditRecords', { Op: op, Limit: 1000, AfterSeq: afterSeq }, { token: t.admin.token });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const page = r.body.Records as AuditRecordJson[];
    out.push(...page);
    if (r.body.NextSeq === undefined || page.length === 0) return out;
    afterSeq = r.body.NextSeq as number - 1;
  }
}

let t: TestServer | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('failed secret checks: one budget for the node and per network, whatever the source address', () => {
  it('rotating source addresses gains nothing; unseal, escrow, rekey and rotate-root share the budget; each failure is logged and audited; the Unix socket stays open to the operator', async () => {
    const { log, lines } = capturingLogger('warn');
    const dir = tempDir('keyward-abuse-');
    const socketPath = join(dir, 'sock', 'keyward.sock');
    // almost no refill during the test: the buckets' sizes are what is tested
    t = await startTestServer({
      log,
      config: {
        socket: socketPath, secretFailuresPerMinute: 0.001, secretFailuresBurst: 6,
        secretFailuresPerNetworkPerMinute: 0.001, secretFailuresNetworkBurst: 3,
      },
    });
    const wrong = { passphrase: 'not the passphrase at all' };
    const admin = t.admin.token;
    // the system checks, each from a network of its own: only the node's budget sees them together
    expect((await sys(t, 'rekey', '127.0.1.1', { ...wrong, new_passphrase: 'another long passphrase' }, admin)).body.__type).toBe('UnsealFailedException');
    expect((await sys(t, 'escrow', '127.0.2.1', wrong, admin)).body.__type).toBe('UnsealFailedException');
    expect((await sys(t, 'rotate-root', '127.0.3.1', wrong, admin)).body.__type).toBe('UnsealFailedException');
    expect((await sys(t, 'seal', '127.0.0.1', {}, admin)).status).toBe(200);

    // rotating addresses within one /24: a fresh address each time, the network's budget (3) ends it
    const answers: string[] = [];
    for (let i = 2; i <= 6; i++) answers.push((await sys(t, 'unseal', `127.0.0.${i}`, wrong)).body.__type as string);
    expect(answers).toEqual(['UnsealFailedException', 'UnsealFailedException', 'UnsealFailedException', 'ThrottlingException', 'ThrottlingException']);
    // another network: the node's budget (6 = 3 system + 3 unseal) is spent, so not even the right passphrase is tried
    const elsewhere = await sys(t, 'unseal', '127.0.9.1', wrong);
    expect(elsewhere.body.__type).toBe('ThrottlingException');
    expect(String(elsewhere.body.message)).toContain('all addresses together');
    expect((await sys(t, 'unseal', '127.0.10.1', { passphrase: TEST_PASSPHRASE })).body.__type).toBe('ThrottlingException');
    expect((await send({ url: t.url }, { path: '/v1/sys/seal-status', method: 'GET', from: '127.0.11.1' })).body.sealed).toBe(true);

    // the operator on the 0600 Unix socket has a budget of their own
    const local = await send({ socketPath }, { path: '/v1/sys/unseal', headers: JSON_TYPE, body: JSON.stringify({ passphrase: TEST_PASSPHRASE }) });
    expect(local.status, local.text).toBe(200);
    expect(local.body.sealed).toBe(false);

    // one log line per failure, naming operation, source and network (never the passphrase)
    const failures = lines.filter((l) => l.msg.startsWith('failed secret check'));
    expect(failures.map((l) => [l.operation, l.source, l.network])).toEqual([
      ['Rekey', '127.0.1.1', '127.0.1.0/24'], ['Escrow', '127.0.2.1', '127.0.2.0/24'], ['RotateRoot', '127.0.3.1', '127.0.3.0/24'],
      ['Unseal', '127.0.0.2', '127.0.0.0/24'], ['Unseal', '127.0.0.3', '127.0.0.0/24'], ['Unseal', '127.0.0.4', '127.0.0.0/24'],
    ]);
    expect(JSON.stringify(lines)).not.toContain(wrong.passphrase);
    // and one audit record per failure; the refused attempts are recorded as throttled
    const audited = [...await records(t, 'Rekey'), ...await records(t, 'Escrow'), ...await records(t, 'RotateRoot'), ...await records(t, 'Unseal')];
    expect(audited.filter((r) => r.result === 'UnsealFailedException').map((r) => r.source).sort())
      .toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.1.1', '127.0.2.1', '127.0.3.1']);
    expect(audited.filter((r) => r.result === 'ThrottlingException').length).toBe(4);
  }, 120_000);
});

describe('unauthenticated requests cost bounded memory and disk', () => {
  it('3,000 made-up X-Amz-Target values: /metrics stays small, audit records are coalesced (counted, never dropped), the target text is hashed; limits per address and for the node', async () => {
    const dataDir = tempDir('keyward-abuse-');
    t = await startTestServer({
      dataDir,
      config: {
        unauthenticatedPerSecond: 0.01, unauthenticatedBurst: 100, unauthenticatedGlobalPerSecond: 0.01, unauthenticatedGlobalBurst: 150,
        // one interval for the whole test: its summaries are written when the server stops
        auditCoalescePerSource: 20, auditCoalesceGlobal: 1000, auditCoalesceIntervalMs: 600_000,
      },
    });
    const url = t.url;
    const metricsBefore = (await send({ url }, { path: '/metrics', method: 'GET' })).text.length;
    const recordsBefore = auditRows(dataDir).length;
    const unknown = (from: string, i: number) => send({ url }, {
      path: '/', from, body: '{}',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.MadeUp${i}-${'x'.repeat(100)}` },
    });
    // per address: 100, then throttled
    const a = await Promise.all(Array.from({ length: 120 }, (_, i) => unknown('127.0.0.2', i)));
    expect(a.filter((r) => r.body.__type === 'UnknownOperationException').length).toBe(100);
    const throttledA = a.filter((r) => r.body.__type === 'ThrottlingException');
    expect(throttledA.length).toBe(20);
    expect(String(throttledA[0]!.body.message)).toContain('from this address');
    // for the node: another address gets what is left of 150 (the test's own init took one)
    const b = await Promise.all(Array.from({ length: 100 }, (_, i) => unknown('127.0.0.3', i)));
    expect(b.filter((r) => r.body.__type === 'UnknownOperationException').length).toBe(49);
    expect(b.filter((r) => r.body.__type === 'ThrottlingException').length).toBe(51);
    expect(b.some((r) => String(r.body.message).includes('reach this server'))).toBe(true);
    // error messages quote at most 64 characters of the target
    const answered = a.find((r) => r.body.__type === 'UnknownOperationException')!;
    expect(String(answered.body.message)).not.toContain('x'.repeat(65));

    // 3,000 from a third address, 16 at a time
    let next = 0;
    const types = new Map<string, number>();
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < 3000) {
        const r = await unknown('127.0.0.4', next++);
        types.set(r.body.__type as string, (types.get(r.body.__type as string) ?? 0) + 1);
      }
    }));
    expect(types.get('ThrottlingException')).toBe(3000);

    const metrics = (await send({ url }, { path: '/metrics', method: 'GET' })).text;
    expect(metrics).not.toContain('MadeUp');
    expect(metrics).toContain('operation="unknown"');
    expect(metrics.length - metricsBefore).toBeLessThan(20_000);
    // audit: 3,220 refused requests, at most 20 records per source kept whole (the rest are counted)
    const during = auditRows(dataDir).length - recordsBefore;
    expect(during).toBeLessThanOrEqual(3 * 20 + 5);
    // authenticated callers are not throttled by any of it
    expect((await callTarget(url, 'TrentService.ListKeys', {}, { token: t.admin.token })).status).toBe(200);

    // stopping writes the interval's summaries: every request is a record or counted, none dropped
    await t.close();
    t = undefined;
    const all = auditRows(dataDir);
    const individual = all.filter((r) => r.op === 'UnknownOperation');
    const summaries = all.filter((r) => r.op === 'CoalescedRequests');
    for (const [source, n] of [['127.0.0.2', 120], ['127.0.0.3', 100], ['127.0.0.4', 3000]] as const) {
      const kept = individual.filter((r) => r.source === source).length;
      expect(kept).toBeLessThanOrEqual(20);
      const counted = summaries.filter((s) => s.source === source).reduce((sum, s) => sum + Number(s.request.count), 0);
      expect(kept + counted, source).toBe(n);
    }
    expect(summaries.find((s) => s.source === '127.0.0.4')!.request).toMatchObject({ 'op.UnknownOperation': expect.any(String) as string, 'result.ThrottlingException': expect.any(String) as string });
    for (const r of individual) {
      expect(r.request.Target).toMatch(/^sha256:[0-9a-f]{32}$/);
      expect(JSON.stringify(r)).not.toContain('MadeUp');
    }
    rmSync(dataDir, { recursive: true, force: true });
  }, 180_000);
});

/** Every audit record in a data directory's SQLite store (records are stored in the clear, hash-chained). */
function auditRows(dataDir: string): AuditRecordJson[] {
  const db = new Database(join(dataDir, 'keyward.db'), { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("SELECT value FROM kv WHERE key LIKE 'audit/%/r/%'").all() as Array<{ value: Buffer }>;
    return rows.map((r) => JSON.parse(r.value.toString('utf8')) as AuditRecordJson);
  } finally {
    db.close();
  }
}
