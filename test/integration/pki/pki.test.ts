import { createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { startServer, type RunningServer } from '../../../src/server.js';
import { callTarget } from '../../helpers/keyward-api.js';
import { httpsRequest, httpsTarget, type TlsClient } from '../../helpers/https.js';
import { csrFromOpenssl, openssl, serverCertificate, writeText } from '../../helpers/pki.js';
import { requireTool } from '../../helpers/services.js';
import { FAST_ARGON2, initViaHttp, tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';
import { eventually } from '../../helpers/wait.js';

const hasOpenssl = requireTool('/usr/bin/openssl', 'openssl');

/**
 * The CA hierarchy end to end, on two servers sharing one SQLite store: A speaks plain HTTP (for
 * openssl's verify, CRL and OCSP clients), B speaks HTTPS and authenticates member certificates
 * (mTLS). Every check is made by a real client: openssl, Node's TLS client, raw HTTP.
 */
describe.runIf(hasOpenssl)('PKI: CA hierarchy, CRL, OCSP and mTLS', () => {
  const dir = tempDir('keyward-pki-');
  const files = tempDir('keyward-pki-files-');
  let a: RunningServer;
  let b: RunningServer;
  let admin: { token: string };
  let acmeAdmin: { token: string };
  let serverCa: string;

  const target = (op: string, body: unknown, auth: { token: string } = admin) => callTarget(a.url, `Keyward.${op}`, body, auth);
  const ok = async (op: string, body: unknown, auth: { token: string } = admin) => {
    const r = await target(op, body, auth);
    expect(r.status, `${op}: ${JSON.stringify(r.body)}`).toBe(200);
    return r.body;
  };
  const errorOf = async (op: string, body: unknown, auth: { token: string } = admin) => {
    const r = await target(op, body, auth);
    expect(r.status, `${op} should fail: ${JSON.stringify(r.body)}`).toBeGreaterThanOrEqual(400);
    return r.body as { __type: string; message: string };
  };
  const get = async (path: string) => {
    const res = await fetch(`${a.url}${path}`);
    return { status: res.status, type: res.headers.get('content-type'), body: Buffer.from(await res.arrayBuffer()) };
  };

  beforeAll(async () => {
    const tls = serverCertificate(files);
    serverCa = readFileSync(tls.cert, 'utf8');
    const store = `sqlite:${join(dir, 'keyward.db')}`;
    const common = { store, logLevel: 'silent' as const, ...FAST_ARGON2, pkiPublicUrl: 'https://kms.example.test' };
    a = await startServer(loadConfig({ ...common, dataDir: join(dir, 'a'), listen: '127.0.0.1:0' }, {}));
    const creds = await initViaHttp(a.url);
    admin = { token: creds.token };
    b = await startServer(loadConfig({ ...common, dataDir: join(dir, 'b'), listen: '127.0.0.1:0', tlsCert: tls.cert, tlsKey: tls.key, tlsClientCa: 'auto' }, {}));
    const unseal = await httpsRequest(`${b.url}/v1/sys/unseal`, { ca: serverCa }, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: TEST_PASSPHRASE }) });
    expect(unseal.status, unseal.body.toString()).toBe(200);
    await ok('CreateTenant', { TenantId: 'acme' });
    await ok('CreateTenant', { TenantId: 'other' });
    const boss = await ok('CreatePrincipal', { Tenant: 'acme', Name: 'boss', Role: 'admin' }) as { Credentials: { Token: string } };
    acmeAdmin = { token: boss.Credentials.Token };
    await ok('CreatePrincipal', { Tenant: 'acme', Name: 'svc', Role: 'user' });
    await ok('CreatePrincipal', { Tenant: 'other', Name: 'svc', Role: 'user' });
  });

  afterAll(async () => {
    await b?.close();
    await a?.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(files, { recursive: true, force: true });
  });

  it('makes a root (P-384, path length 1) and tenant CAs (path length 0, the tenant in an extension), served to relying parties', async () => {
    expect((await errorOf('CreateTenantCA', { Tenant: 'acme' })).__type).toBe('NotFoundException');
    expect((await errorOf('CreateRootCA', {}, acmeAdmin)).__type).toBe('AccessDeniedException');
    const root = await ok('CreateRootCA', {}) as { RootCA: { Certificate: string; SerialNumber: string } };
    expect((await errorOf('CreateRootCA', {})).__type).toBe('AlreadyExistsException');
    // a tenant admin makes its own tenant's CA, not another tenant's
    expect((await errorOf('CreateTenantCA', { Tenant: 'other' }, acmeAdmin)).__type).toBe('AccessDeniedException');
    await ok('CreateTenantCA', {}, acmeAdmin);
    expect((await errorOf('CreateTenantCA', { Tenant: 'acme' })).__type).toBe('AlreadyExistsException');
    await ok('CreateTenantCA', { Tenant: 'other' });

    const rootPem = await get('/v1/pki/root');
    expect(rootPem.status).toBe(200);
    expect(rootPem.body.toString()).toBe(root.RootCA.Certificate);
    const rootDer = await get('/v1/pki/root?format=der');
    expect(rootDer.type).toBe('application/pkix-cert');
    const rootCert = new X509Certificate(rootDer.body);
    expect(rootCert.serialNumber.toLowerCase()).toBe(root.RootCA.SerialNumber);
    expect(rootCert.ca).toBe(true);
    expect(rootCert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
    expect(BigInt(`0x${rootCert.serialNumber}`) >= 2n ** 64n).toBe(true);
    writeText(files, 'root.pem', rootPem.body);

    const caPem = await get('/v1/pki/acme/ca');
    writeText(files, 'acme-ca.pem', caPem.body);
    writeText(files, 'other-ca.pem', (await get('/v1/pki/other/ca')).body);
    const text = (await openssl(['x509', '-in', join(files, 'acme-ca.pem'), '-noout', '-text'])).out;
    expect(text).toMatch(/CA:TRUE, pathlen:0/);
    expect(text).toMatch(/1\.3\.6\.1\.4\.1\.99999\.1:\s*\n\s*\.*acme/);
    expect(text).toMatch(/NIST CURVE: P-384/);
    const rootText = (await openssl(['x509', '-in', join(files, 'root.pem'), '-noout', '-text'])).out;
    expect(rootText).toMatch(/CA:TRUE, pathlen:1/);
    expect((await openssl(['verify', '-CAfile', join(files, 'root.pem'), join(files, 'acme-ca.pem')])).code).toBe(0);
    expect((await get('/v1/pki/nobody/ca')).status).toBe(400);
    expect((await get('/v1/pki/BAD_ID/ca')).status).toBe(400);
  });

  let member: { cert: string; key: string; serial: string; chain: string };

  it('issues from a CSR (the private key never leaves the client); openssl verifies the chain', async () => {
    const { key, csr } = csrFromOpenssl(files, 'svc');
    const csrPem = readFileSync(csr, 'utf8');
    const keyPem = readFileSync(key, 'utf8');
    const body = { Principal: 'svc', Role: 'user', Csr: csrPem, Email: 'svc@acme.example' };
    // what goes over the wire is the request: no private key in it, in any form
    const wire = JSON.stringify(body);
    const keyDer = createPublicKey(keyPem) && Buffer.from(keyPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    expect(wire).not.toContain('PRIVATE KEY');
    expect(wire).not.toContain(keyDer.toString('base64').slice(40, 80));
    const issued = await ok('IssueCertificate', body, acmeAdmin) as {
      Certificate: string; CertificateChain: string; SerialNumber: string; PrivateKey?: string; CertificateMetadata: Record<string, unknown>;
    };
    expect(issued.PrivateKey).toBeUndefined();
    expect(issued.CertificateMetadata).toMatchObject({ Principal: 'svc', Tenant: 'acme', Role: 'user', KeySource: 'CSR', KeySpec: 'EC_P256', Status: 'GOOD' });
    const cert = new X509Certificate(issued.Certificate);
    // the certificate is for the client's own key
    expect(cert.publicKey.export({ type: 'spki', format: 'der' }).equals(createPublicKey(keyPem).export({ type: 'spki', format: 'der' }))).toBe(true);
    expect(BigInt(`0x${cert.serialNumber}`) >= 2n ** 64n).toBe(true);
    member = { cert: writeText(files, 'member.pem', issued.Certificate), key, serial: issued.SerialNumber, chain: issued.CertificateChain };

    const v = await openssl(['verify', '-CAfile', join(files, 'root.pem'), '-untrusted', join(files, 'acme-ca.pem'), member.cert]);
    expect(v.out).toMatch(/member\.pem: OK/);
    expect(v.code).toBe(0);
    // another tenant's CA did not issue it
    expect((await openssl(['verify', '-CAfile', join(files, 'root.pem'), '-untrusted', join(files, 'other-ca.pem'), member.cert])).code).not.toBe(0);
    const text = (await openssl(['x509', '-in', member.cert, '-noout', '-text'])).out;
    expect(text).toMatch(/TLS Web Client Authentication/);
    expect(text).toMatch(/CA:FALSE/);
    expect(text).toMatch(/URI:https:\/\/kms\.example\.test\/v1\/pki\/acme\/crl\?generation=1/);
    expect(text).toMatch(/OCSP - URI:https:\/\/kms\.example\.test\/v1\/pki\/acme\/ocsp/);
    expect(text).toMatch(/email:svc@acme\.example/);
    // the member certificate never outlives its CA
    expect(Date.parse(cert.validTo)).toBeLessThanOrEqual(Date.parse(new X509Certificate(readFileSync(join(files, 'acme-ca.pem'))).validTo));

    const listed = await ok('ListCertificates', {}, acmeAdmin) as { Certificates: Array<{ SerialNumber: string }> };
    expect(listed.Certificates.map((c) => c.SerialNumber)).toContain(member.serial);
    const got = await ok('GetCertificate', { SerialNumber: member.serial.toUpperCase() }, acmeAdmin) as { Certificate: string };
    expect(got.Certificate.trim()).toBe(issued.Certificate.trim());
  });

  it('issues with a generated key pair, returned once', async () => {
    const issued = await ok('IssueCertificate', { Principal: 'svc', ValidityDays: 30 }, acmeAdmin) as { PrivateKey: string; Certificate: string; CertificateMetadata: { KeySource: string } };
    expect(issued.PrivateKey).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(issued.CertificateMetadata.KeySource).toBe('GENERATED');
    const cert = new X509Certificate(issued.Certificate);
    expect(createPublicKey(issued.PrivateKey).export({ type: 'spki', format: 'der' }).equals(cert.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
    expect(Date.parse(cert.validTo) - Date.now()).toBeLessThanOrEqual(30 * 86_400_000 + 60_000);
  });

  it('refuses bad input with clear errors and stores nothing', async () => {
    const before = (await ok('ListCertificates', {}, acmeAdmin) as { Certificates: unknown[] }).Certificates.length;
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ Principal: 'svc', Csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n' }, /not a PKCS#10/],
      [{ Principal: 'svc', Csr: 'bm90IGEgY3Ny' }, /not a PKCS#10/],
      [{ Principal: 'bad name!' }, /Principal name/],
      [{ Principal: 'svc', Role: 'a b' }, /Role/],
    ];
    // a CSR whose signature does not verify: flip a byte of the signature
    const { csr } = csrFromOpenssl(files, 'tampered');
    const der = Buffer.from(readFileSync(csr, 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 5]! ^= 0xff;
    cases.push([{ Principal: 'svc', Csr: der.toString('base64') }, /signature does not verify/]);
    // a CSR asking for CA:TRUE, and keys outside the allowed set
    const caCsr = join(files, 'ca.csr');
    await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(files, 'ca-key.pem'), '-out', caCsr, '-subj', '/CN=x', '-addext', 'basicConstraints=critical,CA:TRUE']);
    cases.push([{ Principal: 'svc', Csr: readFileSync(caCsr, 'utf8') }, /CA certificate/]);
    cases.push([{ Principal: 'svc', Csr: readFileSync(csrFromOpenssl(files, 'rsa1024', ['-newkey', 'rsa:1024']).csr, 'utf8') }, /at least 2048 bits/]);
    cases.push([{ Principal: 'svc', Csr: readFileSync(csrFromOpenssl(files, 'p521', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521']).csr, 'utf8') }, /curve/]);
    for (const [body, message] of cases) {
      const e = await errorOf('IssueCertificate', body, acmeAdmin);
      expect(e.__type, JSON.stringify(body).slice(0, 80)).toBe('ValidationException');
      expect(e.message).toMatch(message);
    }
    // allowed kinds: RSA 2048 (signed with PKCS#1 v1.5 and with PSS), P-384, Ed25519
    const pss = ['-newkey', 'rsa:2048', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32'];
    for (const args of [['-newkey', 'rsa:2048'], pss, ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'], ['-newkey', 'ed25519']]) {
      const c = csrFromOpenssl(files, `ok-${args.join('').replace(/\W/g, '')}`, args);
      const r = await ok('IssueCertificate', { Principal: 'svc', Csr: readFileSync(c.csr, 'utf8') }, acmeAdmin) as { CertificateMetadata: { KeySpec: string } };
      expect(r.CertificateMetadata.KeySpec).toMatch(/^(RSA_2048|EC_P384|ED25519)$/);
    }
    expect((await errorOf('IssueCertificate', { Tenant: 'nobody', Principal: 'svc' })).__type).toBe('NotFoundException');
    expect((await errorOf('RevokeCertificate', { SerialNumber: '0badc0de' }, acmeAdmin)).__type).toBe('NotFoundException');
    expect((await errorOf('RevokeCertificate', { SerialNumber: 'xyz' }, acmeAdmin)).__type).toBe('ValidationException');
    expect((await errorOf('RevokeCertificate', { SerialNumber: member.serial, Reason: 7 }, acmeAdmin)).__type).toBe('ValidationException');
    expect((await errorOf('RevokeCertificate', { SerialNumber: member.serial, Reason: 'bogus' }, acmeAdmin)).__type).toBe('ValidationException');
    const after = (await ok('ListCertificates', {}, acmeAdmin) as { Certificates: unknown[] }).Certificates.length;
    expect(after).toBe(before + 4);
    const status = await ok('GetCertificateStatus', { Tenant: 'acme', SerialNumber: member.serial });
    expect(status.Status).toBe('GOOD');
  });

  const mtls = (): TlsClient => ({ ca: serverCa, cert: member.chain, key: readFileSync(member.key) });

  it('mTLS: a member certificate authenticates its principal over HTTPS; tokens keep working on the same listener', async () => {
    const enc = await httpsTarget(b.url, 'TrentService.CreateKey', {}, { ca: serverCa }, undefined);
    expect(enc.status).toBe(403); // no credentials at all
    const acmeKey = await callTarget(a.url, 'TrentService.CreateKey', { Description: 'acme key' }, acmeAdmin);
    const keyId = (acmeKey.body.KeyMetadata as { KeyId: string }).KeyId;
    const id = await httpsTarget(b.url, 'Keyward.GetCallerIdentity', {}, mtls());
    expect(id.status, JSON.stringify(id.body)).toBe(200);
    expect(id.body).toMatchObject({ Name: 'svc', Tenant: 'acme' });
    const r = await httpsTarget(b.url, 'TrentService.Encrypt', { KeyId: keyId, Plaintext: Buffer.from('over mtls').toString('base64') }, mtls());
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    // a user certificate has the data plane only
    const denied = await httpsTarget(b.url, 'TrentService.CreateKey', {}, mtls());
    expect(denied.body.__type).toBe('AccessDeniedException');
    // the leaf alone (without the chain) authenticates too: Keyward knows its CAs
    const leafOnly = await httpsTarget(b.url, 'Keyward.GetCallerIdentity', {}, { ...mtls(), cert: readFileSync(member.cert) });
    expect(leafOnly.status).toBe(200);
    // bearer token on the same TLS listener
    const bearer = await httpsTarget(b.url, 'Keyward.GetCallerIdentity', {}, { ca: serverCa }, acmeAdmin.token);
    expect(bearer.body).toMatchObject({ Name: 'boss' });
    // the audit record names the certificate
    const audit = await ok('ListAuditRecords', { Op: 'Encrypt', Limit: 50 }) as { Records: Array<{ credential: string; principal: string }> };
    expect(audit.Records.some((x) => x.credential === `certificate:${member.serial}` && x.principal === 'svc')).toBe(true);
  });

  it('mTLS refuses certificates of another issuer, of a principal that does not exist, and self-made ones', async () => {
    // a certificate for a principal that does not exist
    const ghost = csrFromOpenssl(files, 'ghost');
    const g = await ok('IssueCertificate', { Principal: 'ghost', Csr: readFileSync(ghost.csr, 'utf8') }, acmeAdmin) as { CertificateChain: string };
    const r1 = await httpsTarget(b.url, 'Keyward.GetCallerIdentity', {}, { ca: serverCa, cert: g.CertificateChain, key: readFileSync(ghost.key) });
    expect(r1.body.__type).toBe('AccessDeniedException');
    expect(String(r1.body.message)).toMatch(/principal ghost does not exist/);
    // a self-signed certificate claiming the same extensions
    const selfKey = join(files, 'self-key.pem');
    const selfCert = join(files, 'self.pem');
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', selfKey, '-out', selfCert, '-days', '1', '-subj', '/CN=svc',
      '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'extendedKeyUsage=clientAuth', '-addext', '1.3.6.1.4.1.99999.1=ASN1:UTF8String:acme', '-addext', '1.3.6.1.4.1.99999.2=ASN1:UTF8String:admin', '-addext', '1.3.6.1.4.1.99999.3=ASN1:UTF8String:svc']);
    const r2 = await httpsTarget(b.url, 'Keyward.GetCallerIdentity', {}, { ca: serverCa, cert: readFileSync(selfCert), key: readFileSync(selfKey) });
    expect(r2.body.__type).toBe('AccessDeniedException');
    expect(String(r2.body.message)).toMatch(/not issued by a CA of tenant acme/);
    // a member of tenant "other" cannot pose as acme: its certificate names its own tenant
    const o = csrFromOpenssl(files, 'other-svc');
    const oc = await callTarget(a.url, 'Keyward.IssueCertificate', { Tenant: 'other', Principal: 'svc', Csr: readFileSync(o.csr, 'utf8') }, admin);
    const r3 = await httpsTarget(b.url, 'Keyward.GetCallerIdentity', {}, { ca: serverCa, cert: oc.body.CertificateChain as string, key: readFileSync(o.key) });
    expect(r3.body).toMatchObject({ Tenant: 'other', Name: 'svc' });
  });

  it('revocation: openssl -crl_check reports it, OCSP answers good then revoked, mTLS refuses it on both nodes (also on a kept-alive connection)', async () => {
    const crlPath = (name: string) => join(files, name);
    const fetchCrl = async (name: string, query = '') => {
      const r = await get(`/v1/pki/acme/crl${query}`);
      expect(r.status).toBe(200);
      return writeText(files, name, r.body);
    };
    const ocspArgs = ['ocsp', '-issuer', join(files, 'acme-ca.pem'), '-cert', member.cert, '-url', `${a.url}/v1/pki/acme/ocsp`, '-CAfile', join(files, 'root.pem')];
    const good = await openssl(ocspArgs);
    expect(good.out).toMatch(/Response verify OK/);
    expect(good.out).toMatch(/member\.pem: good/);

    // before the revocation, the CRL (DER, as served) lets openssl verify the member
    const chainFile = writeText(files, 'chain.pem', `${readFileSync(join(files, 'root.pem'), 'utf8')}${readFileSync(join(files, 'acme-ca.pem'), 'utf8')}`);
    const before = await openssl(['verify', '-crl_check', '-CAfile', chainFile, '-CRLfile', await fetchCrl('crl-before.der'), member.cert]);
    expect(before.out).toMatch(/member\.pem: OK/);

    // a kept-alive mTLS connection, warm before the revocation
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    expect((await httpsTarget(b.url, 'Keyward.GetCallerIdentity', {}, { ...mtls(), agent })).status).toBe(200);

    const revoked = await ok('RevokeCertificate', { SerialNumber: member.serial, Reason: 'keyCompromise' }, acmeAdmin) as { CertificateMetadata: { Status: string } };
    expect(revoked.CertificateMetadata.Status).toBe('REVOKED');
    expect((await errorOf('RevokeCertificate', { SerialNumber: member.serial }, acmeAdmin)).__type).toBe('KMSInvalidStateException');

    const pemCrl = await get('/v1/pki/acme/crl?format=pem');
    expect(pemCrl.body.toString()).toMatch(/^-----BEGIN X509 CRL-----/);
    writeText(files, 'crl.pem', pemCrl.body);
    const v = await openssl(['verify', '-crl_check', '-CAfile', chainFile, '-CRLfile', crlPath('crl.pem'), member.cert]);
    expect(v.code).not.toBe(0);
    expect(v.out).toMatch(/certificate revoked/);
    const crlText = (await openssl(['crl', '-in', crlPath('crl.pem'), '-noout', '-text'])).out;
    expect(crlText).toMatch(/X509v3 CRL Number/);
    expect(crlText).toMatch(/Key Compromise/);
    expect(crlText.toLowerCase()).toContain(member.serial.toLowerCase());
    const delta = await get('/v1/pki/acme/crl?delta=true&format=pem');
    const deltaText = (await openssl(['crl', '-in', writeText(files, 'delta.pem', delta.body), '-noout', '-text'])).out;
    expect(deltaText).toMatch(/Delta CRL Indicator: critical/);
    expect(deltaText.toLowerCase()).toContain(member.serial.toLowerCase());
    const crlInfo = await ok('GetCRL', { Tenant: 'acme' }) as { CrlNumber: number };
    const deltaInfo = await ok('GetCRL', { Tenant: 'acme', Delta: true }) as { CrlNumber: number; BaseCrlNumber: number; IsDelta: boolean };
    expect(deltaInfo.IsDelta).toBe(true);
    expect(deltaInfo.BaseCrlNumber).toBeLessThanOrEqual(crlInfo.CrlNumber);
    expect(deltaInfo.CrlNumber).toBeGreaterThan(deltaInfo.BaseCrlNumber);

    const after = await openssl(ocspArgs);
    expect(after.out).toMatch(/Response verify OK/);
    expect(after.out).toMatch(/member\.pem: revoked/);
    expect(after.out).toMatch(/Reason: keyCompromise/);
    expect((await ok('GetCertificateStatus', { Tenant: 'acme', SerialNumber: member.serial })).Status).toBe('REVOKED');

    // B learns of the revocation through the store (another node, within a second on SQLite's poll)
    expect(await eventually(async () => (await httpsTarget(b.url, 'Keyward.GetCallerIdentity', {}, mtls())).body.__type === 'AccessDeniedException', 2000)).toBe(true);
    const refused = await httpsTarget(b.url, 'Keyward.GetCallerIdentity', {}, { ...mtls(), agent });
    expect(refused.body.__type).toBe('AccessDeniedException');
    expect(String(refused.body.message)).toMatch(/revoked/);
    agent.destroy();
  });

  it('RotateTenantCA: the new CA issues, the old one still signs CRLs and OCSP for what it issued', async () => {
    const rotated = await ok('RotateTenantCA', {}, acmeAdmin) as { TenantCA: { Generation: number }; PreviousGeneration: number };
    expect(rotated).toMatchObject({ TenantCA: { Generation: 2 }, PreviousGeneration: 1 });
    const c = csrFromOpenssl(files, 'svc2');
    const issued = await ok('IssueCertificate', { Principal: 'svc', Csr: readFileSync(c.csr, 'utf8') }, acmeAdmin) as { CertificateMetadata: { CaGeneration: number }; CertificateChain: string };
    expect(issued.CertificateMetadata.CaGeneration).toBe(2);
    const ca2 = writeText(files, 'acme-ca2.pem', (await get('/v1/pki/acme/ca')).body);
    const ca1 = writeText(files, 'acme-ca1.pem', (await get('/v1/pki/acme/ca?generation=1')).body);
    expect(readFileSync(ca1, 'utf8')).toBe(readFileSync(join(files, 'acme-ca.pem'), 'utf8'));
    expect(readFileSync(ca2, 'utf8')).not.toBe(readFileSync(ca1, 'utf8'));
    const oldCrl = writeText(files, 'crl1.pem', (await get('/v1/pki/acme/crl?generation=1&format=pem')).body);
    const chain1 = writeText(files, 'chain1.pem', `${readFileSync(join(files, 'root.pem'), 'utf8')}${readFileSync(ca1, 'utf8')}`);
    const v = await openssl(['verify', '-crl_check', '-CAfile', chain1, '-CRLfile', oldCrl, member.cert]);
    expect(v.out).toMatch(/certificate revoked/);
    const ocsp = await openssl(['ocsp', '-issuer', ca1, '-cert', member.cert, '-url', `${a.url}/v1/pki/acme/ocsp`, '-CAfile', join(files, 'root.pem')]);
    expect(ocsp.out).toMatch(/member\.pem: revoked/);
    // the new CA's member authenticates
    const ok2 = await httpsTarget(b.url, 'Keyward.GetCallerIdentity', {}, { ca: serverCa, cert: issued.CertificateChain, key: readFileSync(c.key) });
    expect(ok2.status, JSON.stringify(ok2.body)).toBe(200);
  });

  it('CA private keys are never in the store in plaintext', async () => {
    const { unwrapMaterial, paths, decodeRecord } = await import('../../../src/keyring/index.js');
    const inst = a.installation;
    const tenant = await inst.keyring.tenants.require('acme');
    const entry = await inst.barrier.get(paths.pkiCa('acme', 1));
    const record = decodeRecord<{ wrappedKey: string; certificate: string }>(entry!);
    const pkcs8 = unwrapMaterial(await inst.keyring.tenants.masterKey(tenant), { tenantId: 'acme', keyId: 'pki-ca', version: 1, purpose: 'CA_PRIVATE_KEY' }, record.wrappedKey);
    const { createPrivateKey } = await import('node:crypto');
    const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    // it is the CA's key
    expect(createPublicKey(key).export({ type: 'spki', format: 'der' }).equals(new X509Certificate(Buffer.from(record.certificate, 'base64')).publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
    const d = Buffer.from(key.export({ format: 'jwk' }).d!, 'base64url');
    const needles = [pkcs8, d, Buffer.from(d.toString('hex')), Buffer.from(d.toString('base64')), Buffer.from(pkcs8.toString('base64').slice(8, 72))];
    const { readdirSync } = await import('node:fs');
    const dbFiles = readdirSync(dir).filter((f) => f.startsWith('keyward.db')).map((f) => readFileSync(join(dir, f)));
    expect(dbFiles.length).toBeGreaterThan(0);
    for (const file of dbFiles) for (const n of needles) expect(file.includes(n)).toBe(false);
  });
});
