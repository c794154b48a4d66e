import { execFileSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { AsnConvert } from '@peculiar/asn1-schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeywardError } from '../../../src/errors/index.js';
import { parseCsr, readCsr } from '../../../src/pki/csr.js';
import { x509 } from '../../../src/pki/x509.js';

/** Reading PKCS#10 requests with the DER walk in csr.ts: what it accepts, what it refuses and how. */
describe('CSR reading (csr.ts)', () => {
  let dir: string;
  const made = new Map<string, { pem: string; der: Buffer; keyPem: string }>();

  function openssl(name: string, keyArgs: string[], extra: string[] = []): void {
    const key = join(dir, `${name}-key.pem`);
    const csr = join(dir, `${name}.csr`);
    execFileSync('openssl', ['req', '-new', ...keyArgs, '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`, ...extra], { stdio: 'ignore' });
    const pem = readFileSync(csr, 'utf8');
    made.set(name, { pem, der: Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64'), keyPem: readFileSync(key, 'utf8') });
  }
  const get = (name: string) => made.get(name)!;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kw-csr-'));
    openssl('p256', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);
    openssl('p384', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384']);
    openssl('ed25519', ['-newkey', 'ed25519']);
    openssl('rsa-pss', ['-newkey', 'rsa:2048', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32']);
    openssl('ext', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], ['-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'subjectAltName=DNS:x.example', '-addext', 'keyUsage=digitalSignature']);
    openssl('ca', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], ['-addext', 'basicConstraints=critical,CA:TRUE']);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const refusal = async (data: Buffer): Promise<string> => {
    try {
      await readCsr(data);
    } catch (e) {
      expect(e).toBeInstanceOf(KeywardError);
      expect((e as KeywardError).code).toBe('ValidationException');
      return (e as Error).message;
    }
    throw new Error('accepted');
  };

  it.each([['p256', 'EC_P256'], ['p384', 'EC_P384'], ['ed25519', 'ED25519'], ['rsa-pss', 'RSA_2048'], ['ext', 'EC_P256']])('accepts %s (PEM and DER): its key, as @peculiar/x509 reads it', async (name, keySpec) => {
    const c = get(name);
    for (const data of [Buffer.from(c.pem), c.der]) {
      const key = await readCsr(data);
      expect(key.keySpec).toBe(keySpec);
      expect(key.spki.equals(createPublicKey(c.keyPem).export({ type: 'spki', format: 'der' }))).toBe(true);
      expect(key.spki.equals(Buffer.from(new x509.Pkcs10CertificateRequest(c.der).publicKey.rawData))).toBe(true);
    }
  });

  it('the signed part is the request info as it came, and the requested extensions are read', () => {
    const p = parseCsr(get('ext').der);
    const lib = new x509.Pkcs10CertificateRequest(get('ext').der);
    const asn = AsnConvert.parse(get('ext').der, CertificationRequest);
    expect(p.info.equals(Buffer.from(asn.certificationRequestInfoRaw!))).toBe(true);
    expect([...p.extensions.keys()].sort()).toEqual(lib.extensions.map((e) => e.type).sort());
    expect(p.signatureAlgorithm).toBe('1.2.840.10045.4.3.2');
  });

  it('refuses a request for a CA certificate, a bad signature, and structural faults, each by name', async () => {
    expect(await refusal(Buffer.from(get('ca').pem))).toMatch(/requests a CA certificate/);
    const der = get('p256').der;
    const tampered = Buffer.from(der);
    tampered[tampered.length - 5]! ^= 0xff;
    expect(await refusal(tampered)).toMatch(/signature does not verify/);
    // a changed byte in the signed part: the signature no longer covers it
    const renamed = Buffer.from(der);
    const cn = renamed.indexOf(Buffer.from('p256'));
    renamed[cn] = 0x71;
    expect(await refusal(renamed)).toMatch(/signature does not verify/);
    expect(await refusal(Buffer.concat([der, Buffer.from([0])]))).toMatch(/not a PKCS#10.*1 bytes after the end/);
    expect(await refusal(der.subarray(0, der.length - 1))).toMatch(/not a PKCS#10.*runs past the end/);
    const indefinite = Buffer.from([0x30, 0x80, 0x00, 0x00]);
    expect(await refusal(indefinite)).toMatch(/indefinite length/);
    expect(await refusal(Buffer.from([0x02, 0x01, 0x00]))).toMatch(/CertificationRequest has tag 0x2/);
    expect(await refusal(Buffer.alloc(0))).toMatch(/truncated/);
    expect(await refusal(Buffer.from('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n'))).toMatch(/PEM block is malformed/);
    expect(await refusal(Buffer.from('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n'))).toMatch(/not a PKCS#10/);
    // version 1 instead of 0 (the version INTEGER is the first field of the request info)
    const v1 = Buffer.from(der);
    const at = v1.indexOf(Buffer.from([0x02, 0x01, 0x00]));
    v1[at + 2] = 1;
    expect(await refusal(v1)).toMatch(/version is not 0/);
  });

  it('a key whose point is not on its curve is refused before its signature is checked', async () => {
    for (const name of ['p256', 'p384']) {
      const der = Buffer.from(get(name).der);
      const { spki } = parseCsr(der);
      const at = der.indexOf(spki) + spki.length - 1;
      der[at]! ^= 0x01;
      expect(await refusal(der)).toMatch(/public key cannot be read/);
    }
  });

  it('a mutated or truncated request is refused with a ValidationException, never another error', async () => {
    let seed = 0x2545f491;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const base = get('ext').der;
    for (let i = 0; i < 3000; i++) {
      const m = Buffer.from(base);
      const changes = 1 + Math.floor(rand() * 3);
      for (let j = 0; j < changes; j++) m[Math.floor(rand() * m.length)] = Math.floor(rand() * 256);
      const data = i % 3 === 0 ? m.subarray(0, Math.floor(rand() * m.length)) : m;
      try {
        await readCsr(data);
      } catch (e) {
        if (!(e instanceof KeywardError) || e.code !== 'ValidationException') throw new Error(`mutation ${i}: ${String(e)}`);
      }
    }
  });
});
