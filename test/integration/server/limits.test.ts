import { connect, type Socket } from 'node:net';
import { GenerateRandomCommand } from '@aws-sdk/client-kms';
import { afterEach, describe, expect, it } from 'vitest';
import { errorOf } from '../../helpers/errors.js';
import { callTarget } from '../../helpers/keyward-api.js';
import { spawnKeyward } from '../../helpers/process.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

/** Limits and abuse: request size, per-principal rates, costly unseal attempts, slow clients. */

let t: TestServer | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
}

/** Opens a raw TCP connection and records everything the server sends until it closes. */
async function rawSocket(url: string): Promise<{ socket: Socket; received: () => string; closed: Promise<number> }> {
  const { host, port } = hostPort(url);
  const socket = connect({ host, port });
  await new Promise<void>((r, j) => { socket.once('connect', () => r()); socket.once('error', j); });
  let data = '';
  socket.on('data', (c: Buffer) => (data += c.toString('latin1')));
  socket.on('error', () => undefined);
  const opened = Date.now();
  const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - opened)));
  return { socket, received: () => data, closed };
}

describe('per-principal rate limits', () => {
  it('a principal over its rate gets ThrottlingException (HTTP 400, AWS shape); other principals are unaffected', async () => {
    t = await startTestServer({ config: { rateLimitPerSecond: 0.5, rateLimitBurst: 5 } });
    // The admin spends one token creating the second principal; then floods.
    const made = await callTarget(t.url, 'Keyward.CreatePrincipal', { Name: 'other', Role: 'user' }, t.admin);
    expect(made.status).toBe(200);
    const other = made.body.Credentials as { Token: string };
    const statuses: Array<{ status: number; type: unknown }> = [];
    const started = performance.now();
    for (let i = 0; i < 12; i++) {
      const r = await callTarget(t.url, 'TrentService.GenerateRandom', { NumberOfBytes: 8 }, { token: t.admin.token });
      statuses.push({ status: r.status, type: r.body.__type });
    }
    const throttled = statuses.filter((s) => s.type === 'ThrottlingException');
    // 12 requests against a bucket of 5 (less the admin's one call above) refilling at 0.5/s
    const refilled = Math.ceil(((performance.now() - started) / 1000) * 0.5);
    expect(throttled.length).toBeGreaterThanOrEqual(12 - 4 - refilled);
    expect(throttled.length).toBeGreaterThan(0);
    expect(throttled.every((s) => s.status === 400)).toBe(true);
    expect(statuses.filter((s) => s.status === 200).length).toBeGreaterThanOrEqual(4);
    // The other principal has its own bucket.
    expect((await callTarget(t.url, 'TrentService.GenerateRandom', { NumberOfBytes: 8 }, { token: other.Token })).status).toBe(200);
    // The AWS SDK sees the AWS exception by name (and would back off and retry it).
    const e = await errorOf(t.kms.send(new GenerateRandomCommand({ NumberOfBytes: 8 })));
    expect(e.name).toBe('ThrottlingException');
    expect(e.$metadata.httpStatusCode).toBe(400);
    // The bucket refills at the configured rate.
    await new Promise((r) => setTimeout(r, 2100));
    expect((await callTarget(t.url, 'TrentService.GenerateRandom', { NumberOfBytes: 8 }, { token: t.admin.token })).status).toBe(200);
  });

  it('rate 0 turns the limit off', async () => {
    t = await startTestServer({ config: { rateLimitPerSecond: 0, rateLimitBurst: 1 } });
    for (let i = 0; i < 30; i++) {
      expect((await callTarget(t.url, 'TrentService.GenerateRandom', { NumberOfBytes: 8 }, { token: t.admin.token })).status).toBe(200);
    }
  });

  it('unseal attempts that reach Argon2 are limited per source address', async () => {
    t = await startTestServer({ config: { unsealBurst: 3, unsealRatePerMinute: 1 } });
    // init used one token from this address.
    expect((await fetch(`${t.url}/v1/sys/seal`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.admin.token}` } })).status).toBe(200);
    const attempt = async () => {
      const res = await fetch(`${t!.url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: 'wrong passphrase here' }) });
      return { status: res.status, type: ((await res.json()) as { __type?: string }).__type };
    };
    // invalid requests never reach Argon2 and cost nothing
    for (let i = 0; i < 5; i++) {
      expect(((await (await fetch(`${t.url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json()) as { __type: string }).__type).toBe('ValidationException');
    }
    expect(await attempt()).toEqual({ status: 400, type: 'UnsealFailedException' });
    expect(await attempt()).toEqual({ status: 400, type: 'UnsealFailedException' });
    expect(await attempt()).toEqual({ status: 400, type: 'ThrottlingException' });
    expect(await attempt()).toEqual({ status: 400, type: 'ThrottlingException' });
  });
});

describe('request size bound', () => {
  it('a chunked body (no Content-Length) larger than the limit is cut off with 413 RequestEntityTooLargeException', async () => {
    t = await startTestServer({ config: { bodyLimit: 16 * 1024 } });
    const { socket, received, closed } = await rawSocket(t.url);
    socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: TrentService.Encrypt\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = 'a'.repeat(4096);
    for (let i = 0; i < 8 && !socket.destroyed; i++) socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    // the client stops mid-body: the server drops what came, waits a little for more, then answers and closes
    await Promise.race([closed, new Promise((r) => setTimeout(r, 15_000))]);
    expect(received()).toMatch(/^HTTP\/1\.1 413/);
    expect(received()).toContain('"__type":"RequestEntityTooLargeException"');
    socket.destroy();
  });

  it('a client that finishes writing before it reads (Node fetch, 4 MiB Encrypt) reads 413 RequestEntityTooLargeException every time', async () => {
    // a server process of its own: in the test's process the server reads in step with the
    // client's writes and the reset never shows
    const server = await spawnKeyward(['server', '--store', 'memory', '--listen', '127.0.0.1:0'], { KEYWARD_LOG_LEVEL: 'warn' }); // limit 1 MiB
    try {
      await expectAll413(server.url);
    } finally {
      await server.stop();
    }
  });

  async function expectAll413(url: string): Promise<void> {
    const body = Buffer.alloc(4 * 1024 * 1024, 0x61);
    const headers = { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.Encrypt' };
    const outcomes: string[] = [];
    // without the lingering close about one in four of these saw `fetch failed` (EPIPE or ECONNRESET)
    for (let i = 0; i < 20; i++) {
      const sent = i % 4 === 3
        // chunked, no Content-Length: the limit is found while reading
        ? fetch(url, { method: 'POST', headers, duplex: 'half', body: new ReadableStream({ start(c) { for (let o = 0; o < body.length; o += 65536) c.enqueue(body.subarray(o, o + 65536)); c.close(); } }) } as RequestInit)
        : fetch(url, { method: 'POST', headers, body });
      outcomes.push(await sent.then(
        async (res) => `${res.status} ${res.headers.get('x-amzn-errortype') ?? ''} ${((await res.json()) as { __type?: string }).__type ?? ''}`,
        (e: unknown) => `${(e as Error).message} ${((e as { cause?: { code?: string } }).cause?.code) ?? ''}`,
      ));
    }
    expect(outcomes).toEqual(new Array(20).fill('413 RequestEntityTooLargeException RequestEntityTooLargeException'));
    expect((await fetch(`${url}/v1/sys/health`)).status).toBe(501); // up (not initialised)
  }

  it('a body declared larger than the discard bound is answered 413 at once, without reading it', async () => {
    t = await startTestServer();
    const { socket, received, closed } = await rawSocket(t.url);
    socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: TrentService.Encrypt\r\nContent-Length: 104857600\r\n\r\n');
    await Promise.race([closed, new Promise((r) => setTimeout(r, 15_000))]);
    expect(received()).toMatch(/^HTTP\/1\.1 413/);
    expect(received()).toContain('"__type":"RequestEntityTooLargeException"');
    socket.destroy();
  });
});

describe('slow clients (slowloris)', () => {
  it('a client that never finishes its headers is disconnected after the header timeout; others are served', async () => {
    t = await startTestServer({ config: { headersTimeoutMs: 300, requestTimeoutMs: 600 } });
    const slow = await Promise.all([1, 2, 3].map(() => rawSocket(t!.url)));
    for (const s of slow) s.socket.write('POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.Gen');
    // Dribble a header byte now and then: each write must not reset the deadline.
    const dribble = setInterval(() => { for (const s of slow) if (!s.socket.destroyed) s.socket.write('e'); }, 100);
    try {
      const health = await fetch(`${t.url}/v1/sys/health`);
      expect(health.status).toBe(200);
      const lifetimes = await Promise.race([Promise.all(slow.map((s) => s.closed)), new Promise<number[]>((r) => setTimeout(() => r([]), 8000))]);
      expect(lifetimes).toHaveLength(3);
      for (const s of slow) expect(s.received()).toMatch(/^HTTP\/1\.1 408|^$/);
    } finally {
      clearInterval(dribble);
      for (const s of slow) s.socket.destroy();
    }
  });

  it('a client that sends its headers but dribbles the body is disconnected after the request timeout', async () => {
    t = await startTestServer({ config: { headersTimeoutMs: 300, requestTimeoutMs: 600 } });
    const s = await rawSocket(t.url);
    s.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: TrentService.GenerateRandom\r\nContent-Length: 1000\r\n\r\n{');
    const dribble = setInterval(() => { if (!s.socket.destroyed) s.socket.write(' '); }, 100);
    try {
      const lifetime = await Promise.race([s.closed, new Promise<number>((r) => setTimeout(() => r(-1), 8000))]);
      expect(lifetime).toBeGreaterThan(0);
      expect(s.received()).toMatch(/^HTTP\/1\.1 408|^$/);
    } finally {
      clearInterval(dribble);
      s.socket.destroy();
    }
  });
});
