import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { startServer, type RunningServer } from '../../../src/server.js';
import { grpcClient, grpcFailure, loadProto, type GrpcClient } from '../../helpers/grpc.js';
import { httpsRequest } from '../../helpers/https.js';
import { csrFromOpenssl, openssl, serverCertificate, writeText } from '../../helpers/pki.js';
import { requireTool } from '../../helpers/services.js';
import { FAST_ARGON2, tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';

const hasOpenssl = requireTool('/usr/bin/openssl', 'openssl');

/**
 * The PKI over gRPC on a TLS listener that asks for client certificates: a client built only from
 * miniKMS's PKIService proto runs miniKMS's workflow, Keyward's own Pki service issues from a CSR,
 * and a member certificate authenticates keyward.v1.Kms Encrypt until it is revoked.
 */
describe.runIf(hasOpenssl)('PKI over gRPC: miniKMS PKIService, keyward.v1.Pki, mTLS', () => {
  const dir = tempDir('keyward-pki-grpc-');
  let server: RunningServer;
  let ca: Buffer;
  let token: string;
  let acmeToken: string;
  const clients: GrpcClient[] = [];
  const minikms = loadProto(['minikms/v1/pki.proto']);
  const keyward = loadProto(['keyward/v1/kms.proto', 'keyward/v1/pki.proto']);
  const client = (pkg: grpc.GrpcObject, service: string, options: Parameters<typeof grpcClient>[3] = {}) => {
    const c = grpcClient(pkg, service, server.grpcAddress!, { ca, channel: { 'grpc.ssl_target_name_override': 'localhost' }, ...options });
    clients.push(c);
    return c;
  };
  const https = async (target: string, body: unknown, bearer = token) => {
    const r = await httpsRequest(`${server.url}/`, { ca }, { method: 'POST', headers: { 'x-amz-target': target, authorization: `Bearer ${bearer}`, 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify(body) });
    expect(r.status, r.body.toString()).toBe(200);
    return JSON.parse(r.body.toString()) as Record<string, unknown>;
  };

  beforeAll(async () => {
    const tls = serverCertificate(dir);
    ca = readFileSync(tls.cert);
    server = await startServer(loadConfig({
      dataDir: join(dir, 'data'), listen: '127.0.0.1:0', grpcListen: '127.0.0.1:0', tlsCert: tls.cert, tlsKey: tls.key, tlsClientCa: 'auto', logLevel: 'silent', ...FAST_ARGON2,
    }, {}));
    const init = await httpsRequest(`${server.url}/v1/sys/init`, { ca }, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: TEST_PASSPHRASE }) });
    token = (JSON.parse(init.body.toString()) as { credentials: { token: string } }).credentials.token;
    await https('Keyward.CreateRootCA', {});
    await https('Keyward.CreateTenant', { TenantId: 'acme' });
    acmeToken = ((await https('Keyward.CreatePrincipal', { Tenant: 'acme', Name: 'boss', Role: 'admin' })).Credentials as { Token: string }).Token;
    await https('Keyward.CreatePrincipal', { Tenant: 'acme', Name: 'svc', Role: 'user' });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a miniKMS client runs its PKI workflow unchanged', async () => {
    const pki = client(minikms, 'minikms.v1.PKIService', { token });
    const root = await pki.GetRootCA!({});
    expect(String(root.cert_pem)).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const org = await pki.CreateOrgCA!({ org_id: 'acme', org_name: 'Acme' });
    expect(String(org.cert_pem)).toMatch(/BEGIN CERTIFICATE/);
    // calling it again (as miniKMS clients do before issuing) answers the same CA
    expect((await pki.CreateOrgCA!({ org_id: 'acme', org_name: 'Acme' })).serial_hex).toBe(org.serial_hex);
    const member = await pki.IssueMemberCert!({ member_id: 'svc', member_email: 'svc@acme.example', org_id: 'acme', role: 'user' });
    expect(String(member.key_pem)).toMatch(/BEGIN PRIVATE KEY/);
    const files = { root: writeText(dir, 'mk-root.pem', String(root.cert_pem)), ca: writeText(dir, 'mk-ca.pem', String(org.cert_pem)), member: writeText(dir, 'mk-member.pem', String(member.cert_pem)) };
    expect((await openssl(['verify', '-CAfile', files.root, '-untrusted', files.ca, files.member])).code).toBe(0);
    const text = (await openssl(['x509', '-in', files.member, '-noout', '-text'])).out;
    expect(text).toMatch(/1\.3\.6\.1\.4\.1\.99999\.3:\s*\n\s*\.*svc/);

    expect((await pki.CheckOCSP!({ serial_hex: member.serial_hex, org_id: 'acme' }))).toMatchObject({ status: 0, revoked_at: '' });
    expect((await pki.RevokeCert!({ serial_hex: member.serial_hex, org_id: 'acme', reason: 1 })).success).toBe(true);
    const status = await pki.CheckOCSP!({ serial_hex: member.serial_hex, org_id: 'acme' });
    expect(status.status).toBe(1);
    expect(Date.parse(String(status.revoked_at))).toBeGreaterThan(Date.now() - 600_000);
    expect((await pki.CheckOCSP!({ serial_hex: '0abc', org_id: 'acme' })).status).toBe(2);
    const crl = await pki.GetCRL!({ org_id: 'acme' });
    expect(crl.is_delta).toBe(false);
    const crlText = (await openssl(['crl', '-inform', 'DER', '-in', writeText(dir, 'mk.crl', crl.crl_der as Buffer), '-noout', '-text'])).out;
    expect(crlText.toLowerCase()).toContain(String(member.serial_hex));
    const delta = await pki.GetCRL!({ org_id: 'acme', delta_only: true });
    expect(delta.is_delta).toBe(true);
    expect(Number(delta.crl_number)).toBeGreaterThan(0);
    // revoking twice, unknown org, no credentials: registry codes as gRPC statuses
    expect((await grpcFailure(pki.RevokeCert!({ serial_hex: member.serial_hex, org_id: 'acme', reason: 1 }))).code).toBe(grpc.status.FAILED_PRECONDITION);
    expect((await grpcFailure(pki.IssueMemberCert!({ member_id: 'svc', org_id: 'nobody', role: 'user' }))).code).toBe(grpc.status.NOT_FOUND);
    const anonymous = client(minikms, 'minikms.v1.PKIService');
    expect((await grpcFailure(anonymous.IssueMemberCert!({ member_id: 'svc', org_id: 'acme', role: 'user' }))).code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('keyward.v1.Pki issues from a CSR; the member certificate authenticates Kms.Encrypt over gRPC until revoked', async () => {
    const pki = client(keyward, 'keyward.v1.Pki', { token: acmeToken });
    const { key, csr } = csrFromOpenssl(dir, 'grpc-svc');
    const issued = await pki.IssueCertificate!({ principal: 'svc', csr: readFileSync(csr, 'utf8') });
    expect(issued.private_key).toBe('');
    const serial = String(issued.serial_number);
    expect((await pki.GetCertificateStatus!({ tenant: 'acme', serial_number: serial })).status).toBe('GOOD');
    const keyId = ((await https('TrentService.CreateKey', {}, acmeToken)).KeyMetadata as { KeyId: string }).KeyId;

    const kms = client(keyward, 'keyward.v1.Kms', { cert: Buffer.from(String(issued.certificate_chain)), key: readFileSync(key) });
    const enc = await kms.Encrypt!({ key_id: keyId, plaintext: Buffer.from('grpc mtls') });
    expect((enc.ciphertext_blob as Buffer).length).toBeGreaterThan(0);
    const dec = await kms.Decrypt!({ ciphertext_blob: enc.ciphertext_blob });
    expect((dec.plaintext as Buffer).toString()).toBe('grpc mtls');
    // no certificate and no token: unauthenticated
    const bare = client(keyward, 'keyward.v1.Kms');
    expect((await grpcFailure(bare.Encrypt!({ key_id: keyId, plaintext: Buffer.from('x') }))).code).toBe(grpc.status.UNAUTHENTICATED);

    await pki.RevokeCertificate!({ serial_number: serial, reason: 'superseded' });
    const refused = await grpcFailure(kms.Encrypt!({ key_id: keyId, plaintext: Buffer.from('after revocation') }));
    expect(refused.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(refused.details).toMatch(/AccessDeniedException: .*revoked/);
  });
});
