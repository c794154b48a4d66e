import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { startKeyward } from '../lib/keyward.js';
import type { LoadResult } from '../lib/load.js';
import { interleaved, loadRow } from '../lib/measure.js';
import { median, round } from '../lib/stats.js';
import type { BenchContext, BenchRow, BenchScenario } from '../lib/types.js';

const ISSUE_GOAL = 200;

interface Tls {
  readonly ca: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly agent: Agent | false;
}

/** One X-Amz-Target call over HTTPS with Node's TLS client (optionally with a client certificate). */
function call(url: string, tls: Tls, target: string, body: string, token?: string): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({
      host: u.hostname, port: u.port, path: '/', method: 'POST', ca: tls.ca, servername: 'localhost', agent: tls.agent,
      ...(tls.cert !== undefined ? { cert: tls.cert, key: tls.key } : {}),
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target, ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A closed loop of `connections` callers for `durationSec`; every answer must be 200. */
async function closedLoop(connections: number, durationSec: number, once: () => Promise<{ status: number; text: string }>): Promise<LoadResult> {
  const latencies: number[] = [];
  const end = performance.now() + durationSec * 1000;
  const started = performance.now();
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const r = await once();
      if (r.status !== 200) throw new Error(`answered ${r.status}: ${r.text.slice(0, 300)}`);
      latencies.push(performance.now() - t0);
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0, 1);
  return { rps: latencies.length / seconds, p50Ms: at(0.5), p99Ms: at(0.99), requests: latencies.length };
}

/** ECDSA P-384 signatures per second in this process (node:crypto): what bounds issuance. */
function p384SignaturesPerSecond(seconds: number): number {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const data = Buffer.alloc(512, 7);
  const end = performance.now() + seconds * 1000;
  let n = 0;
  const t0 = performance.now();
  while (performance.now() < end) {
    sign('sha384', data, privateKey);
    n++;
  }
  return n / ((performance.now() - t0) / 1000);
}

/**
 * The PKI's costs on one `keyward server` process serving HTTPS with --tls-client-ca auto:
 *  - IssueCertificate from a PKCS#10 CSR (verify, sign with the tenant CA's P-384 key, store,
 *    audit) per second, against raw P-384 signatures per second in one process;
 *  - Encrypt authenticated by a member certificate (mTLS) against Encrypt with a bearer token,
 *    both on kept-alive connections, and with a new TLS handshake per request (the handshake
 *    plus the certificate's verification is the price of mTLS for short-lived clients).
 */
export const pki: BenchScenario = {
  name: 'PKI: issuance from a CSR, mTLS Encrypt vs bearer Encrypt',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const dir = ctx.tmpDir;
    const serverCert = join(dir, 'pki-server.pem');
    const serverKey = join(dir, 'pki-server-key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', serverKey, '-out', serverCert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    const memberKey = join(dir, 'pki-member-key.pem');
    const memberCsr = join(dir, 'pki-member.csr');
    execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', memberKey, '-out', memberCsr, '-subj', '/CN=bench'], { stdio: 'ignore' });
    const kw = await startKeyward(ctx, { args: ['--tls-cert', serverCert, '--tls-key', serverKey, '--tls-client-ca', 'auto'] });
    const agents: Agent[] = [];
    try {
      const ca = readFileSync(serverCert);
      const token = kw.admin.token;
      const setupAgent = new Agent({ keepAlive: true });
      agents.push(setupAgent);
      const admin = async (target: string, body: unknown) => {
        const r = await call(kw.url, { ca, agent: setupAgent }, target, JSON.stringify(body), token);
        if (r.status !== 200) throw new Error(`${target} answered ${r.status}: ${r.text.slice(0, 300)}`);
        return JSON.parse(r.text) as Record<string, unknown>;
      };
      await admin('Keyward.CreateRootCA', {});
      await admin('Keyward.CreateTenantCA', {});
      await admin('Keyward.CreatePrincipal', { Name: 'bench-mtls', Role: 'user' });
      const csr = readFileSync(memberCsr, 'utf8');
      const issued = await admin('Keyward.IssueCertificate', { Principal: 'bench-mtls', Csr: csr });
      const keyId = ((await admin('TrentService.CreateKey', {})).KeyMetadata as { KeyId: string }).KeyId;
      const member = { cert: Buffer.from(String(issued.CertificateChain)), key: readFileSync(memberKey) };
      const encryptBody = JSON.stringify({ KeyId: keyId, Plaintext: Buffer.alloc(32, 1).toString('base64') });
      const issueBody = JSON.stringify({ Principal: 'bench-mtls', Csr: csr });
      const conns = Math.max(2, Math.min(ctx.connections, 16));
      const pool = (cert?: typeof member) => {
        const agent = new Agent({ keepAlive: true, maxSockets: conns, ...(cert ?? {}), ca });
        agents.push(agent);
        return agent;
      };
      const bearerAgent = pool();
      const mtlsAgent = pool(member);
      const issueAgent = pool();

      const signs = median(Array.from({ length: ctx.rounds }, () => p384SignaturesPerSecond(ctx.quick ? 0.5 : 1)));
      const m = await interleaved(ctx, {
        issue: (s) => closedLoop(conns, s, () => call(kw.url, { ca, agent: issueAgent }, 'Keyward.IssueCertificate', issueBody, token)),
        bearer: (s) => closedLoop(conns, s, () => call(kw.url, { ca, agent: bearerAgent }, 'TrentService.Encrypt', encryptBody, token)),
        mtls: (s) => closedLoop(conns, s, () => call(kw.url, { ca, agent: mtlsAgent, ...member }, 'TrentService.Encrypt', encryptBody)),
        bearerHandshake: (s) => closedLoop(conns, s, () => call(kw.url, { ca, agent: false }, 'TrentService.Encrypt', encryptBody, token)),
        mtlsHandshake: (s) => closedLoop(conns, s, () => call(kw.url, { ca, agent: false, ...member }, 'TrentService.Encrypt', encryptBody)),
      });
      const bearer = { name: 'bearer Encrypt over HTTPS, kept-alive', value: m.bearer.rps };
      return [
        {
          ...loadRow('IssueCertificate from a CSR (P-256 member, P-384 CA), HTTPS, 1 process', m.issue, {
            baseline: { name: 'ECDSA P-384 signatures/s, node:crypto, 1 process', value: signs },
            notes: `${conns} concurrent callers; each issuance verifies the CSR, signs, stores the certificate and an audit record`,
          }),
          unit: 'ops/s',
          goal: { text: `>= ${ISSUE_GOAL}/s`, met: m.issue.rps >= ISSUE_GOAL },
        },
        loadRow('Encrypt 32 B, bearer token, HTTPS kept-alive', m.bearer),
        loadRow('Encrypt 32 B, mTLS member certificate, HTTPS kept-alive', m.mtls, { baseline: bearer, notes: 'the certificate is verified once (cached by fingerprint); validity and revocation are checked on every request' }),
        loadRow('Encrypt 32 B, bearer token, new TLS handshake per request', m.bearerHandshake, { baseline: bearer }),
        loadRow('Encrypt 32 B, mTLS, new TLS handshake per request', m.mtlsHandshake, { baseline: bearer, notes: 'the mTLS handshake + Encrypt cost' }),
      ];
    } finally {
      for (const a of agents) a.destroy();
      await kw.stop();
    }
  },
};
