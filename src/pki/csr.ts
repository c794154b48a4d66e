import { createPublicKey, verify, webcrypto, type KeyObject } from 'node:crypto';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { AsnConvert } from '@peculiar/asn1-schema';
import { KeywardError } from '../errors/index.js';
import { MEMBER_ALGORITHM, pem, toBuffer } from './names.js';
import { x509 } from './x509.js';

const invalid = (message: string) => new KeywardError('ValidationException', `Csr: ${message}`);

/** A public key a member certificate may carry, and its key spec name. */
export interface SubjectKey {
  readonly publicKey: x509.PublicKey;
  readonly keySpec: string;
}

/**
 * Reads a PKCS#10 request (PEM or DER), checks its signature (proof that the requester holds the
 * private key) and that its key is of an allowed kind: RSA of 2048 bits or more, P-256, P-384 or
 * Ed25519. A request asking for a CA certificate is refused; its other requested extensions are
 * ignored (Keyward decides what a member certificate says).
 */
export async function readCsr(data: Buffer): Promise<SubjectKey> {
  let asn: CertificationRequest;
  let csr: x509.Pkcs10CertificateRequest;
  try {
    const text = data.toString('latin1');
    asn = AsnConvert.parse(text.includes('-----BEGIN') ? x509.PemConverter.decodeFirst(text) : toBuffer(data), CertificationRequest);
    csr = new x509.Pkcs10CertificateRequest(asn);
  } catch {
    throw invalid('not a PKCS#10 certificate request (PEM or DER)');
  }
  const { keySpec, key } = readSubjectKey(Buffer.from(csr.publicKey.rawData));
  let verified = false;
  try {
    verified = await verifyCsr(asn, csr, key);
  } catch {
    verified = false;
  }
  if (!verified) throw invalid('the signature does not verify with the public key it carries');
  const bc = csr.extensions.find((e) => e.type === '2.5.29.19');
  if (bc !== undefined && new x509.BasicConstraintsExtension(bc.rawData).ca) throw invalid('requests a CA certificate (basicConstraints cA=TRUE); members get end-entity certificates only');
  return { publicKey: csr.publicKey, keySpec };
}

/** Signature algorithms of a request that node:crypto checks directly: OID -> digest (null: Ed25519). */
const NODE_VERIFIED: ReadonlyMap<string, string | null> = new Map([
  ['1.2.840.10045.4.3.2', 'sha256'], ['1.2.840.10045.4.3.3', 'sha384'], ['1.2.840.10045.4.3.4', 'sha512'],
  ['1.2.840.113549.1.1.11', 'sha256'], ['1.2.840.113549.1.1.12', 'sha384'], ['1.2.840.113549.1.1.13', 'sha512'],
  ['1.3.101.112', null],
]);

/**
 * The request's signature over its own bytes, with node:crypto for the usual algorithms (ECDSA
 * and PKCS#1 signatures are DER in the request, as node:crypto reads them); others (RSA-PSS with
 * its parameters) through the X.509 library, about ten times slower.
 */
async function verifyCsr(asn: CertificationRequest, csr: x509.Pkcs10CertificateRequest, key: KeyObject): Promise<boolean> {
  const digest = NODE_VERIFIED.get(asn.signatureAlgorithm.algorithm);
  // the signed bytes as they came (a re-encoding could differ from a non-canonical request)
  if (digest === undefined || asn.certificationRequestInfoRaw === undefined) return csr.verify();
  return verify(digest, toBuffer(asn.certificationRequestInfoRaw), key, toBuffer(asn.signature));
}

/** The key spec of a SubjectPublicKeyInfo, or a ValidationException for a kind Keyward does not certify. */
export function keySpecOf(spki: Buffer): string {
  return readSubjectKey(spki).keySpec;
}

function readSubjectKey(spki: Buffer): { keySpec: string; key: KeyObject } {
  let key;
  try {
    key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch {
    throw invalid('the public key cannot be read');
  }
  return { keySpec: subjectKeySpec(key), key };
}

function subjectKeySpec(key: KeyObject): string {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa': {
      const bits = details.modulusLength ?? 0;
      if (bits < 2048) throw invalid(`RSA keys must have at least 2048 bits (this one has ${bits})`);
      return `RSA_${bits}`;
    }
    case 'ec':
      if (details.namedCurve === 'prime256v1') return 'EC_P256';
      if (details.namedCurve === 'secp384r1') return 'EC_P384';
      throw invalid(`elliptic curve ${details.namedCurve ?? 'unknown'} is not allowed (P-256 or P-384)`);
    case 'ed25519':
      return 'ED25519';
    default:
      throw invalid(`key type ${key.asymmetricKeyType ?? 'unknown'} is not allowed (RSA >= 2048, P-256, P-384, Ed25519)`);
  }
}

/** A member key pair made by Keyward (when no CSR was sent): the private key is returned once and never stored. */
export async function generateMemberKey(): Promise<SubjectKey & { privateKeyPem: string }> {
  const keys = await webcrypto.subtle.generateKey(MEMBER_ALGORITHM, true, ['sign', 'verify']);
  const pkcs8 = toBuffer(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const privateKeyPem = pem(pkcs8, 'PRIVATE KEY');
  pkcs8.fill(0);
  return { publicKey: await x509.PublicKey.create(keys.publicKey), keySpec: 'EC_P256', privateKeyPem };
}
