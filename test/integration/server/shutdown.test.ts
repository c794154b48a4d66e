import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { callTarget } from '../../helpers/keyward-api.js';
import { keyward, processesIn, type KeywardProcess } from '../../helpers/process.js';
import { tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';
import { requireTool } from '../../helpers/services.js';
import { eventually } from '../../helpers/wait.js';

/**
 * Stopping and reloading a real `keyward server` process: SIGTERM drains (requests in flight
 * finish, health answers 503, no new connections), SIGHUP reloads the TLS certificate.
 */

const FAST = { KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1', KEYWARD_LOG_LEVEL: 'warn', KEYWARD_PASSPHRASE: TEST_PASSPHRASE };

async function initDataDir(dataDir: string): Promise<string> {
  const init = await keyward(['init', '--data-dir', dataDir, '--json'], FAST);
  expect(init.code, init.stderr).toBe(0);
  return (JSON.parse(init.stdout) as { token: string }).token;
}

/** A request whose last byte is held back: it is in flight until finish() sends it. */
interface HeldRequest {
  finish(): void;
  /** Everything the server sent back, once it closed the connection. */
  readonly answer: Promise<string>;
}

/** Sends all of `raw` (a whole HTTP request) but its last byte. */
async function holdRequest(url: string, raw: string): Promise<HeldRequest> {
  const u = new URL(url);
  const socket: Socket = connect({ host: u.hostname, port: Number(u.port) });
  await new Promise<void>((r, j) => { socket.once('connect', () => r()); socket.once('error', j); });
  let received = '';
  socket.on('data', (c: Buffer) => (received += c.toString('latin1')));
  socket.on('error', () => undefined);
  const answer = new Promise<string>((r) => socket.once('close', () => r(received)));
  // write, not end: a half-closed request is abandoned by Node's HTTP server
  socket.write(raw.slice(0, -1));
  return { finish: () => socket.write(raw.slice(-1)), answer };
}

function withBody(head: string, body: string): string {
  return `${head}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/**
 * Resolves once the server has read every byte written to it before the call: a whole request on
 * a fresh connection is answered only after the event loop went past the earlier, already readable
 * sockets. A connection whose first bytes the server has not read yet counts as idle and is
 * closed at once by a drain, which is not what the tests mean to hold.
 */
async function serverHasRead(url: string): Promise<void> {
  // a connection of its own (fetch would reuse a pooled one the server may answer first)
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpGet(`${url}/v1/sys/health`, { agent: false }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('error', reject);
  });
  expect(status).toBe(200);
}

function refusesConnections(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = connect({ host: u.hostname, port: Number(u.port) });
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
}

/** The exit code, once the process exits by itself (stop() would signal it again). */
async function exited(p: KeywardProcess): Promise<number | null> {
  expect(await eventually(() => p.proc.exitCode !== null || p.proc.signalCode !== null, 30_000, 50), p.output()).toBe(true);
  return p.proc.exitCode;
}

describe('SIGTERM drains a keyward server', () => {
  const dir = tempDir();
  const procs = processesIn(dir);

  it('requests in flight all complete, health answers 503 meanwhile, new connections are refused, then it exits 0', async () => {
    const dataDir = join(dir, 'drain');
    const token = await initDataDir(dataDir);
    const server = await procs.spawn(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], FAST);
    const key = await callTarget(server.url, 'TrentService.CreateKey', {}, { token });
    expect(key.status).toBe(200);
    const keyId = (key.body.KeyMetadata as { KeyId: string }).KeyId;
    const head = (target: string) => `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: ${target}\r\nAuthorization: Bearer ${token}\r\n`;
    const held = await Promise.all(Array.from({ length: 8 }, (_, i) => holdRequest(server.url, withBody(head('TrentService.Encrypt'), JSON.stringify({ KeyId: keyId, Plaintext: Buffer.from(`in flight ${i}`).toString('base64') })))));
    // a health probe in flight too (its header block unfinished: a GET is answered as soon as its
    // headers are read); it is answered after SIGTERM, so it must say 503
    const probe = await holdRequest(server.url, 'GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n\r\n');
    await serverHasRead(server.url);

    server.proc.kill('SIGTERM');
    expect(await eventually(() => refusesConnections(server.url), 10_000, 50)).toBe(true);
    for (const h of held) h.finish();
    probe.finish();
    const answers = await Promise.all(held.map((h) => h.answer));
    for (const a of answers) {
      expect(a).toMatch(/^HTTP\/1\.1 200 /);
      expect(a.toLowerCase()).toContain('connection: close');
      expect(a).toContain('"CiphertextBlob"');
    }
    const health = await probe.answer;
    expect(health).toMatch(/^HTTP\/1\.1 503 /);
    expect(health).toContain('"draining":true');
    expect(await exited(server)).toBe(0);
  }, 60_000);

  it('a request still in flight when shutdownGraceMs ends is cut, and the server still exits', async () => {
    const dataDir = join(dir, 'grace');
    await initDataDir(dataDir);
    const server = await procs.spawn(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], { ...FAST, KEYWARD_SHUTDOWN_GRACE_MS: '1000' });
    const stuck = await holdRequest(server.url, withBody('POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.GenerateRandom\r\n', '{"NumberOfBytes":8}'));
    await serverHasRead(server.url);
    server.proc.kill('SIGTERM');
    // never finished by the client: the grace period ends it
    expect(await stuck.answer).toBe('');
    expect(await exited(server)).toBe(0);
  }, 60_000);
});

describe.runIf(requireTool('/usr/bin/openssl', 'openssl'))('SIGHUP reloads the TLS certificate', () => {
  const dir = tempDir();
  const procs = processesIn(dir);

  const makeCert = (name: string) => {
    const cert = join(dir, `${name}.crt`);
    const key = join(dir, `${name}.key`);
    execFileSync('/usr/bin/openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    return { cert, key, fingerprint: new X509Certificate(execFileSync('/usr/bin/openssl', ['x509', '-in', cert])).fingerprint256 };
  };

  /** The fingerprint of the certificate a new TLS connection is served. */
  const servedFingerprint = (url: string) => new Promise<string>((resolve, reject) => {
    const u = new URL(url);
    const s = tlsConnect({ host: u.hostname, port: Number(u.port), rejectUnauthorized: false }, () => {
      const raw = s.getPeerCertificate().raw;
      s.destroy();
      resolve(new X509Certificate(raw).fingerprint256);
    });
    s.once('error', reject);
  });

  it('a certificate swapped on disk is served to new connections after SIGHUP; a broken pair keeps the old one', async () => {
    const first = makeCert('first');
    const second = makeCert('second');
    const cert = join(dir, 'server.crt');
    const key = join(dir, 'server.key');
    copyFileSync(first.cert, cert);
    copyFileSync(first.key, key);
    const dataDir = join(dir, 'tls');
    await initDataDir(dataDir);
    const server: KeywardProcess = await procs.spawn(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--tls-cert', cert, '--tls-key', key], FAST);
    expect(await servedFingerprint(server.url)).toBe(first.fingerprint);

    copyFileSync(second.cert, cert);
    copyFileSync(second.key, key);
    // before the signal nothing changes
    expect(await servedFingerprint(server.url)).toBe(first.fingerprint);
    server.proc.kill('SIGHUP');
    expect(await eventually(async () => (await servedFingerprint(server.url)) === second.fingerprint, 10_000, 50)).toBe(true);

    // the first certificate with the second key: refused, the second pair stays in use
    copyFileSync(first.cert, cert);
    server.proc.kill('SIGHUP');
    expect(await eventually(() => server.output().includes('TLS reload failed'), 10_000, 50)).toBe(true);
    expect(await servedFingerprint(server.url)).toBe(second.fingerprint);
    // and the server still answers
    const res = await new Promise<number>((resolve, reject) => {
      const u = new URL(server.url);
      const s = tlsConnect({ host: u.hostname, port: Number(u.port), rejectUnauthorized: false }, () => s.write('GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      let out = '';
      s.on('data', (c: Buffer) => (out += c.toString()));
      s.once('end', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(out)?.[1] ?? 0)));
      s.once('error', reject);
    });
    expect(res).toBe(200);
  }, 60_000);
});
