import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { startServer } from '../../../src/server.js';
import { FAST_ARGON2, tempDir } from '../../helpers/server.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function get(options: { socketPath?: string; url?: string; ca?: Buffer }, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const send = options.url?.startsWith('https') ? httpsRequest : httpRequest;
    const target = options.url ? new URL(path, options.url) : undefined;
    const req = send({
      ...(options.socketPath ? { socketPath: options.socketPath, path } : { hostname: target!.hostname, port: target!.port, path: target!.pathname }),
      ...(options.ca ? { ca: options.ca } : {}),
    }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('listeners', () => {
  it('serves on a Unix socket with mode 0600 in a 0700 directory, beside loopback TCP', async () => {
    const socketPath = join(dir, 'run', 'keyward.sock');
    const server = await startServer(loadConfig({ dataDir: join(dir, 'a'), listen: '127.0.0.1:0', socket: socketPath, logLevel: 'silent', ...FAST_ARGON2 }, {}));
    try {
      expect(server.socketPath).toBe(socketPath);
      expect(statSync(socketPath).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, 'run')).mode & 0o777).toBe(0o700);
      const viaSocket = await get({ socketPath }, '/v1/sys/seal-status');
      expect(viaSocket.status).toBe(200);
      expect(JSON.parse(viaSocket.body)).toMatchObject({ initialized: false });
      expect((await get({ url: server.url }, '/v1/sys/seal-status')).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('refuses a socket directory others can enter', async () => {
    const open = join(dir, 'open');
    mkdirSync(open, { mode: 0o755 });
    chmodSync(open, 0o755);
    await expect(startServer(loadConfig({ dataDir: join(dir, 'b'), listen: '127.0.0.1:0', socket: join(open, 'k.sock'), logLevel: 'silent' }, {})))
      .rejects.toThrow(/mode 0700/);
  });

  it('refuses a non-loopback address without TLS', async () => {
    await expect(startServer(loadConfig({ dataDir: join(dir, 'c'), listen: '0.0.0.0:0', logLevel: 'silent' }, {})))
      .rejects.toThrow(/without TLS/);
  });

  it('serves HTTPS with --tls-cert/--tls-key (certificate made by openssl)', async () => {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const server = await startServer(loadConfig({ dataDir: join(dir, 'd'), listen: '127.0.0.1:0', tlsCert: cert, tlsKey: key, logLevel: 'silent' }, {}));
    try {
      expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const { readFileSync } = await import('node:fs');
      const r = await get({ url: server.url, ca: readFileSync(cert) }, '/v1/sys/health');
      expect(r.status).toBe(501);
    } finally {
      await server.close();
    }
  });

  it('configuration errors name the setting', () => {
    expect(() => loadConfig({ listen: 'nonsense' }, {})).toThrow(/listen/);
    expect(() => loadConfig({}, { KEYWARD_BODY_LIMIT: 'lots' })).toThrow(/bodyLimit/);
    expect(() => loadConfig({ tlsCert: '/x' }, {})).toThrow(/tlsCert and tlsKey/);
    expect(loadConfig({ region: 'eu-west-3' }, { KEYWARD_REGION: 'us-west-2' }).region).toBe('eu-west-3');
    expect(loadConfig({}, { KEYWARD_REGION: 'us-west-2' }).region).toBe('us-west-2');
  });
});

describe('files on disk', () => {
  it('the SQLite store is readable by its owner only, whatever the umask', async () => {
    const old = process.umask(0o022);
    try {
      const server = await startServer(loadConfig({ dataDir: join(dir, 'files'), listen: '127.0.0.1:0', logLevel: 'silent', ...FAST_ARGON2 }, {}));
      const { initViaHttp } = await import('../../helpers/server.js');
      await initViaHttp(server.url);
      await server.close();
      for (const f of ['keyward.db']) expect(statSync(join(dir, 'files', f)).mode & 0o777, f).toBe(0o600);
      expect(statSync(join(dir, 'files')).mode & 0o777).toBe(0o700);
    } finally {
      process.umask(old);
    }
  });
});
