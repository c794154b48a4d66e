import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpsTarget, type TlsClient } from '../../helpers/https.js';
import { csrFromOpenssl, serverCertificate } from '../../helpers/pki.js';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../../helpers/postgres.js';
import { keyward, processesIn, type KeywardProcess } from '../../helpers/process.js';
import { requireTool } from '../../helpers/services.js';
import { tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';

const available = requireTool('/usr/bin/openssl', 'openssl') && await postgresAvailable();
const FAST = { KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1', KEYWARD_LOG_LEVEL: 'warn' };

/**
 * Two `keyward server` processes over one PostgreSQL database, both serving HTTPS with mTLS
 * (--tls-client-ca auto): the `keyward pki` CLI sets up the hierarchy on one, a Node TLS client
 * with a member certificate encrypts on both, and a revocation made on A is refused by B within
 * a second (LISTEN/NOTIFY), also on a connection B had kept alive.
 */
describe.runIf(available)('mTLS on two nodes over PostgreSQL', () => {
  const dir = tempDir('keyward-pki-nodes-');
  const procs = processesIn(dir);
  let db: TestDatabase;
  let a: KeywardProcess;
  let b: KeywardProcess;
  let adminToken: string;
  let serverCa: string;
  let cli: (args: string[], endpoint?: string, token?: string) => Promise<{ code: number; stdout: string; stderr: string }>;

  beforeAll(async () => {
    db = await createTestDatabase('pki_nodes');
    const tls = serverCertificate(dir);
    serverCa = readFileSync(tls.cert, 'utf8');
    const init = await keyward(['init', '--store', db.url, '--data-dir', dir, '--pki', '--json'], { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    expect(init.code, init.stderr).toBe(0);
    const created = JSON.parse(init.stdout) as { token: string; root_ca: { SerialNumber: string; Certificate: string } };
    expect(created.root_ca.Certificate).toMatch(/BEGIN CERTIFICATE/);
    adminToken = created.token;
    const args = ['server', '--store', db.url, '--data-dir', dir, '--listen', '127.0.0.1:0', '--tls-cert', tls.cert, '--tls-key', tls.key, '--tls-client-ca', 'auto'];
    a = await procs.spawn(args, { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    b = await procs.spawn(args, { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    cli = (cmd, endpoint = a.url, token = adminToken) => keyward(cmd, { KEYWARD_ENDPOINT: endpoint, KEYWARD_TOKEN: token, NODE_EXTRA_CA_CERTS: tls.cert });
  });

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  it('a member certificate encrypts on both nodes; revoked on A, B refuses it within a second', { timeout: 180_000 }, async () => {
    const run = async (cmd: string[], token?: string) => {
      const r = await cli(cmd, a.url, token);
      expect(r.code, `${cmd.join(' ')}: ${r.stderr}`).toBe(0);
      return r.stdout;
    };
    await run(['tenant', 'create', 'acme']);
    const boss = JSON.parse(await run(['principal', 'create', 'boss', '--tenant', 'acme', '--role', 'admin'])) as { Credentials: { Token: string } };
    await run(['principal', 'create', 'svc', '--tenant', 'acme', '--role', 'user']);
    await run(['pki', 'create-tenant-ca'], boss.Credentials.Token);
    const { key, csr } = csrFromOpenssl(dir, 'svc');
    const chainFile = join(dir, 'svc-chain.pem');
    const issued = JSON.parse(await run(['pki', 'issue', 'svc', '--csr', csr, '--out', chainFile], boss.Credentials.Token)) as { SerialNumber: string; PrivateKey?: string };
    expect(issued.PrivateKey).toBeUndefined();
    const keyId = (JSON.parse(await run(['key', 'create', '--description', 'mtls'], boss.Credentials.Token)) as { KeyMetadata: { KeyId: string } }).KeyMetadata.KeyId;

    const agents = [new Agent({ keepAlive: true, maxSockets: 1 }), new Agent({ keepAlive: true, maxSockets: 1 })];
    const client = (agent?: Agent): TlsClient => ({ ca: serverCa, cert: readFileSync(chainFile), key: readFileSync(key), ...(agent ? { agent } : {}) });
    const encrypt = (node: KeywardProcess, agent?: Agent) =>
      httpsTarget(node.url, 'TrentService.Encrypt', { KeyId: keyId, Plaintext: Buffer.from('mtls on two nodes').toString('base64') }, client(agent));
    for (const [i, node] of [a, b].entries()) {
      const r = await encrypt(node, agents[i]);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      // the two nodes share keys: what B encrypts, A decrypts
      const d = await httpsTarget(a.url, 'TrentService.Decrypt', { CiphertextBlob: r.body.CiphertextBlob }, client());
      expect(Buffer.from(d.body.Plaintext as string, 'base64').toString()).toBe('mtls on two nodes');
    }

    await run(['pki', 'revoke', issued.SerialNumber, '--reason', 'keyCompromise'], boss.Credentials.Token);
    const revokedAt = Date.now();
    let refusedAfter = -1;
    while (Date.now() - revokedAt < 5000) {
      const r = await encrypt(b, agents[1]);
      if (r.body.__type === 'AccessDeniedException') {
        refusedAfter = Date.now() - revokedAt;
        expect(String(r.body.message)).toMatch(/revoked/);
        break;
      }
      expect(r.status).toBe(200);
      await sleep(20);
    }
    expect(refusedAfter, 'B never refused the revoked certificate').toBeGreaterThanOrEqual(0);
    expect(refusedAfter).toBeLessThanOrEqual(1000);
    console.info(`revocation on A refused by B after ${refusedAfter} ms`);
    // a new handshake is refused on both nodes too
    for (const node of [a, b]) expect((await encrypt(node)).body.__type).toBe('AccessDeniedException');
    for (const ag of agents) ag.destroy();

    // the CLI reads the revocation back and writes the CRL
    const status = JSON.parse(await run(['pki', 'status', issued.SerialNumber, '--tenant', 'acme'])) as { Status: string };
    expect(status.Status).toBe('REVOKED');
    const crlFile = join(dir, 'acme.crl');
    await run(['pki', 'crl', '--tenant', 'acme', '--pem', '--out', crlFile]);
    expect(readFileSync(crlFile, 'utf8')).toMatch(/^-----BEGIN X509 CRL-----/);
  });
});
