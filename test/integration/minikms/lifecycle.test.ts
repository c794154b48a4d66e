import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { startServer } from '../../../src/server.js';
import { callTarget } from '../../helpers/keyward-api.js';
import { NdjsonClient } from '../../helpers/ndjson.js';
import { processesIn } from '../../helpers/process.js';
import { FAST_ARGON2, startTestServer, tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';
import { eventually } from '../../helpers/wait.js';

/** The local socket listeners in the server's life: configuration, start, and the drain on SIGTERM. */
describe('mini-kms and KMS plugin listeners in the server lifecycle', () => {
  it('refuses a non-loopback mini-kms address without TLS, and a KMS plugin socket without a key', async () => {
    const dir = tempDir('keyward-minikms-config-');
    const config = loadConfig({ dataDir: dir, listen: '127.0.0.1:0', logLevel: 'silent', minikmsListen: '0.0.0.0:0' }, {});
    await expect(startServer(config)).rejects.toThrow(/mini-kms protocol on 0\.0\.0\.0 without TLS/);
    expect(() => loadConfig({ dataDir: dir, k8sKmsSocket: join(dir, 'k8s', 'kms.sock') }, {})).toThrow(/k8sKmsSocket needs k8sKmsKey/);
    // a socket directory others may enter is refused
    mkdirSync(join(dir, 'open'), { mode: 0o755 });
    const open = loadConfig({ dataDir: dir, listen: '127.0.0.1:0', logLevel: 'silent', minikmsSocket: join(dir, 'open', 'm.sock') }, {});
    try {
      await expect(startServer(open)).rejects.toThrow(/accessible to others/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves TLS when given a certificate, as a non-loopback address needs (tested on loopback), and refuses plaintext there', async () => {
    const dir = tempDir('keyward-minikms-tls-');
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    // initialised over plain HTTP first, then started with TLS and unsealed in process
    const first = await startTestServer({ dataDir: join(dir, 'data') });
    await first.close();
    const server = await startServer(loadConfig({ dataDir: join(dir, 'data'), listen: '127.0.0.1:0', tlsCert: cert, tlsKey: key, minikmsListen: '127.0.0.1:0', logLevel: 'silent', ...FAST_ARGON2 }, {}));
    const t = { admin: first.admin, close: () => server.close() };
    try {
      await server.installation.seal.unseal({ passphrase: TEST_PASSPHRASE });
      const port = Number(server.minikmsAddress!.split(':').at(-1));
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(cert) }, () => socket.write(`${JSON.stringify({ type: 'Health', token: t.admin.token })}\n`));
        let got = '';
        socket.setEncoding('utf8');
        socket.on('data', (d: string) => {
          got += d;
          if (got.includes('\n')) {
            socket.destroy();
            resolve(got.trim());
          }
        });
        socket.on('error', reject);
      });
      expect(JSON.parse(answer)).toEqual({ status: 'ok', detail: 'ok' });
      // plaintext on the TLS port gets no answer line: the handshake fails and the connection closes
      const plain = await NdjsonClient.open({ host: '127.0.0.1', port });
      plain.write(`${JSON.stringify({ type: 'Health', token: t.admin.token })}\n`);
      expect(await plain.next(30_000)).toBeUndefined();
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const dir = tempDir('keyward-minikms-life-');
  const procs = processesIn(dir);

  it('serves from `keyward server` flags and drains on SIGTERM: idle connections close, the process exits 0', async () => {
    mkdirSync(join(dir, 'run'), { mode: 0o700 });
    const minikmsSocket = join(dir, 'run', 'mini-kms.sock');
    const k8sSocket = join(dir, 'run', 'k8s', 'kms.sock');
    const server = await procs.spawn([
      'server', '--data-dir', join(dir, 'data'), '--listen', '127.0.0.1:0', '--minikms-socket', minikmsSocket, '--minikms-listen', '127.0.0.1:0',
      '--k8s-kms-socket', k8sSocket, '--k8s-kms-key', 'alias/k8s',
    ], { KEYWARD_LOG_LEVEL: 'warn', KEYWARD_ARGON2_MEMORY_KIB: String(FAST_ARGON2.argon2MemoryKiB), KEYWARD_ARGON2_ITERATIONS: '1' });
    expect(await eventually(() => /Kubernetes KMS v2 plugin listening on /.test(server.output()), 20_000)).toBe(true);
    const tcp = /mini-kms protocol listening on 127\.0\.0\.1:(\d+)/.exec(server.output());
    expect(tcp).not.toBeNull();
    expect(existsSync(k8sSocket)).toBe(true);
    const init = await fetch(`${server.url}/v1/sys/init`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: 'lifecycle passphrase of this test' }) });
    const token = ((await init.json()) as { credentials: { token: string } }).credentials.token;
    expect((await callTarget(server.url, 'Keyward.GetCallerIdentity', {}, { token })).status).toBe(200);

    const viaTcp = await NdjsonClient.open({ host: '127.0.0.1', port: Number(tcp![1]) });
    const viaUnix = await NdjsonClient.open({ path: minikmsSocket });
    try {
      expect((await viaTcp.call({ type: 'Health', token })).status).toBe('ok');
      expect((await viaUnix.call({ type: 'Encrypt', token, plaintext: Buffer.from('x').toString('base64') })).status).toBe('ok');
      const exited = server.stop('SIGTERM');
      // both connections are idle: the drain closes them
      expect(await viaTcp.waitClosed(30_000)).toBe(true);
      expect(await viaUnix.waitClosed(30_000)).toBe(true);
      expect(await exited).toBe(0);
    } finally {
      viaTcp.close();
      viaUnix.close();
    }
    await expect(NdjsonClient.open({ path: minikmsSocket })).rejects.toThrow();
  });
});
