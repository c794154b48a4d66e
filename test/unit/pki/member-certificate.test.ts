import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, generateKeyPairSync, webcrypto, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Extension, Extensions, Name, SubjectPublicKeyInfo, TBSCertificate, Validity, Version } from '@peculiar/asn1-x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CA_ALGORITHM, OID } from '../../../src/pki/names.js';
import { keyIdentifier, memberName, memberTbs, readIssuer, signTbs, stringExtension, x509, type Issuer, type MemberFields } from '../../../src/pki/x509.js';

/**
 * The member certificate written directly (memberTbs) against the same certificate built from
 * @peculiar/asn1-x509 structures, as issuance did before: the TBSCertificate bytes must be equal.
 */
function libraryTbs(issuer: Issuer, f: MemberFields): Buffer {
  const subject = new x509.Name([{ O: ['Keyward'] }, { OU: [f.tenantId] }, { CN: [f.principal] }]);
  const extensions = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | (f.keyEncipherment ? x509.KeyUsageFlags.keyEncipherment : 0), true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
    new x509.SubjectKeyIdentifierExtension(keyIdentifier(f.publicKey)),
    new x509.AuthorityKeyIdentifierExtension(issuer.keyIdentifier),
    ...(f.email !== undefined ? [new x509.SubjectAlternativeNameExtension([{ type: 'email', value: f.email }])] : []),
    stringExtension(OID.member, f.principal),
    stringExtension(OID.tenant, f.tenantId),
    stringExtension(OID.role, f.role),
  ];
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array(Buffer.from(f.serialNumber, 'hex')).buffer,
    signature: new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.3' }),
    issuer: AsnConvert.parse(issuer.name, Name),
    validity: new Validity({ notBefore: f.notBefore, notAfter: f.notAfter }),
    subject: AsnConvert.parse(subject.toArrayBuffer(), Name),
    subjectPublicKeyInfo: AsnConvert.parse(f.publicKey, SubjectPublicKeyInfo),
    extensions: new Extensions([...extensions.map((e) => AsnConvert.parse(e.rawData, Extension)), ...f.trailing.map((e) => AsnConvert.parse(e, Extension))]),
  });
  return Buffer.from(AsnConvert.serialize(tbs));
}

const spkiOf = (key: KeyObject) => key.export({ type: 'spki', format: 'der' });

describe('member certificates written without the schema library (x509.ts memberTbs)', () => {
  let dir: string;
  let issuer: Issuer;
  let caKey: KeyObject;
  let caDer: Buffer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kw-member-'));
    const keys = await webcrypto.subtle.generateKey(CA_ALGORITHM, true, ['sign', 'verify']);
    const ca = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '0a1b2c3d4e5f',
      name: [{ O: ['Keyward'] }, { OU: ['acme'] }, { CN: ['acme Intermediate CA'] }],
      keys,
      signingAlgorithm: CA_ALGORITHM,
      notBefore: new Date('2026-01-01T00:00:00Z'),
      notAfter: new Date('2080-01-01T00:00:00Z'),
      extensions: [new x509.BasicConstraintsExtension(true, 0, true), await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)],
    });
    caDer = Buffer.from(ca.rawData);
    issuer = readIssuer(caDer);
    caKey = createPrivateKey({ key: Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)), format: 'der', type: 'pkcs8' });
    writeFileSync(join(dir, 'ca.pem'), ca.toString('pem'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the issuer name and key identifier as the library does', () => {
    const cert = new x509.X509Certificate(caDer);
    expect(issuer.name.equals(Buffer.from(cert.subjectName.toArrayBuffer()))).toBe(true);
    const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
    expect(issuer.keyIdentifier).toBe(ski?.keyId);
  });

  const urls = () => [
    new x509.CRLDistributionPointsExtension(['https://kms.example.test/v1/pki/acme/crl?generation=1']),
    new x509.AuthorityInfoAccessExtension({ ocsp: 'https://kms.example.test/v1/pki/acme/ocsp', caIssuers: 'https://kms.example.test/v1/pki/acme/ca?generation=1&format=der' }),
  ].map((e) => Buffer.from(e.rawData));

  const cases: Array<[string, () => MemberFields]> = [
    ['P-256, no e-mail, no URLs', () => fields(spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey), 'svc', 'user', false, [])],
    ['RSA 2048 (keyEncipherment), e-mail, URLs', () => ({ ...fields(spkiOf(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey), 'svc-2', 'admin', true, urls()), email: 'svc@acme.example' })],
    ['Ed25519, a principal with @ , + = (UTF8String, escaped text), validity past 2049 (GeneralizedTime)', () => ({
      ...fields(spkiOf(generateKeyPairSync('ed25519').publicKey), 'a.b+c=d,e@f_g', 'ops-1', false, urls()),
      notAfter: new Date('2051-06-30T23:59:59Z'),
    })],
  ];
  const topBit: [string, () => MemberFields] = ['P-384, a serial with its top bit set', () => ({
    ...fields(spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey), 'x', 'user', false, []), serialNumber: 'ff00112233445566778899',
  })];

  it.each(cases)('%s: the same TBSCertificate bytes as the library', (_name, make) => {
    const f = make();
    expect(memberTbs(issuer, f).toString('hex')).toBe(libraryTbs(issuer, f).toString('hex'));
  });

  it('a serial with its top bit set stays positive (a 0x00 is prepended; the library wrote it as a negative INTEGER)', () => {
    // randomSerial() clears the top bit, so issuance never met this; the writer is still right for it
    const tbs = memberTbs(issuer, topBit[1]());
    expect(tbs.subarray(4 + 5, 4 + 5 + 14).toString('hex')).toBe('020c00ff00112233445566778899');
  });

  it('the subject text is what @peculiar/x509 Name writes', () => {
    for (const principal of ['svc', 'a.b+c=d,e@f_g', 'x_y', 'AbC-09']) {
      const n = memberName('acme', principal);
      const lib = new x509.Name([{ O: ['Keyward'] }, { OU: ['acme'] }, { CN: [principal] }]);
      expect(n.text).toBe(lib.toString());
      expect(n.der.equals(Buffer.from(lib.toArrayBuffer()))).toBe(true);
    }
  });

  it.each([...cases, topBit])('%s: the signed certificate is DER that node, @peculiar/x509 and openssl read with its fields, and verifies with the CA key', async (name, make) => {
    const f = make();
    const der = signTbs(memberTbs(issuer, f), caKey);
    const node = new X509Certificate(der);
    expect(node.raw.equals(der)).toBe(true);
    expect(node.checkIssued(new X509Certificate(caDer))).toBe(true);
    expect(node.verify(new X509Certificate(caDer).publicKey)).toBe(true);
    expect(node.serialNumber.toLowerCase().replace(/^0+/, '')).toBe(f.serialNumber.replace(/^0+/, ''));
    expect(Date.parse(node.validFrom)).toBe(f.notBefore.getTime());
    expect(Date.parse(node.validTo)).toBe(f.notAfter.getTime());
    expect(spkiOf(node.publicKey).equals(Buffer.from(f.publicKey))).toBe(true);

    const lib = new x509.X509Certificate(der);
    expect(Buffer.from(lib.rawData).equals(der)).toBe(true);
    expect(lib.subject).toBe(f.subject.text);
    expect(lib.issuer).toBe(new x509.X509Certificate(caDer).subject);
    expect(await lib.verify({ publicKey: new x509.X509Certificate(caDer).publicKey, signatureOnly: true })).toBe(true);
    expect(lib.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([x509.ExtendedKeyUsage.clientAuth]);
    expect(lib.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
    expect(lib.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(issuer.keyIdentifier);
    expect(lib.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId).toBe(keyIdentifier(f.publicKey));

    const file = join(dir, `${name.replace(/\W+/g, '-')}.der`);
    writeFileSync(file, der);
    // openssl re-encodes what it parsed: the same bytes back means it read every field as written
    const back = execFileSync('openssl', ['x509', '-inform', 'DER', '-in', file, '-outform', 'DER']);
    expect(back.equals(der)).toBe(true);
    const text = execFileSync('openssl', ['x509', '-inform', 'DER', '-in', file, '-noout', '-text'], { encoding: 'utf8' });
    expect(text).toMatch(/TLS Web Client Authentication/);
    expect(text).toMatch(/CA:FALSE/);
    if (f.email !== undefined) expect(text).toContain(`email:${f.email}`);
    if (f.trailing.length > 0) expect(text).toMatch(/OCSP - URI:https:\/\/kms\.example\.test\/v1\/pki\/acme\/ocsp/);
  });

  function fields(publicKey: Buffer, principal: string, role: string, keyEncipherment: boolean, trailing: Buffer[]): MemberFields {
    return {
      serialNumber: '3fa2b1c4d5e6f70812233445566778',
      subject: memberName('acme', principal),
      publicKey,
      keyEncipherment,
      notBefore: new Date('2026-12-07T02:00:00Z'),
      notAfter: new Date('2027-12-07T02:00:00Z'),
      principal,
      tenantId: 'acme',
      role,
      trailing,
    };
  }
});
