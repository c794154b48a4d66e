import { createPublicKey, verify, webcrypto, type JsonWebKey, type KeyObject } from 'node:crypto';
import { KeywardError } from '../errors/index.js';
import { MEMBER_ALGORITHM, pem, toBuffer } from './names.js';
import { DerError, TAG, children, expectTag, oidText, single } from './der.js';
import { x509 } from './x509.js';

const invalid = (message: string) => new KeywardError('ValidationException', `Csr: ${message}`);

/** A public key a member certificate may carry, and its key spec name. */
export interface SubjectKey {
  /** DER SubjectPublicKeyInfo. */
  readonly spki: Buffer;
  readonly keySpec: string;
}

/** The parts of a PKCS#10 request (RFC 2986) issuance needs, read from its DER. */
interface ParsedCsr {
  /** certificationRequestInfo as it came: the signed bytes. */
  readonly info: Buffer;
  readonly spki: Buffer;
  readonly signatureAlgorithm: string;
  readonly signature: Buffer;
  /** The extensions it asks for (extensionRequest attribute): OID -> the DER of its value. */
  readonly extensions: ReadonlyMap<string, Buffer>;
}

const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const BASIC_CONSTRAINTS = '2.5.29.19';

/**
 * Reads a PKCS#10 request (PEM or DER), checks its signature (proof that the requester holds the
 * private key) and that its key is of an allowed kind: RSA of 2048 bits or more, P-256, P-384 or
 * Ed25519. A request asking for a CA certificate is refused; its other requested extensions are
 * ignored (Keyward decides what a member certificate says).
 */
export async function readCsr(data: Buffer): Promise<SubjectKey> {
  let der: Buffer;
  let csr: ParsedCsr;
  try {
    der = decodePem(data);
    csr = parseCsr(der);
  } catch (e) {
    const detail = e instanceof DerError ? `: ${e.message}` : '';
    throw invalid(`not a PKCS#10 certificate request (PEM or DER)${detail}`);
  }
  const { keySpec, key } = readSubjectKey(csr.spki);
  let verified = false;
  try {
    verified = await verifyCsr(csr, der, key);
  } catch {
    verified = false;
  }
  if (!verified) throw invalid('the signature does not verify with the public key it carries');
  const bc = csr.extensions.get(BASIC_CONSTRAINTS);
  if (bc !== undefined && isCa(bc)) throw invalid('requests a CA certificate (basicConstraints cA=TRUE); members get end-entity certificates only');
  return { spki: csr.spki, keySpec };
}

/** The DER of the first PEM block of `data`, or `data` itself when it is not PEM. */
function decodePem(data: Buffer): Buffer {
  const text = data.toString('latin1');
  if (!text.includes('-----BEGIN')) return data;
  const m = /-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\s]*)-----END \1-----/.exec(text);
  if (m === null) throw new DerError('the PEM block is malformed (no matching END line, or not base64 inside)');
  return Buffer.from(m[2]!, 'base64');
}

/**
 * CertificationRequest { certificationRequestInfo { version 0, subject Name, subjectPKInfo,
 * [0] attributes }, signatureAlgorithm, signature BIT STRING }: a walk over the DER, strict about
 * structure (every length, tag and the trailing bytes), without the schema library.
 */
export function parseCsr(der: Buffer): ParsedCsr {
  const outer = expectTag(single(der), TAG.sequence, 'CertificationRequest');
  const parts = children(outer);
  if (parts.length !== 3) throw new DerError(`CertificationRequest has ${parts.length} parts where 3 were expected`);
  const info = expectTag(parts[0], TAG.sequence, 'certificationRequestInfo');
  const [version, subject, spki, attributes, ...extra] = children(info);
  const v = expectTag(version, TAG.integer, 'version').contents;
  if (v.length !== 1 || v[0] !== 0) throw new DerError('version is not 0 (v1)');
  expectTag(subject, TAG.sequence, 'subject');
  const keyInfo = expectTag(spki, TAG.sequence, 'subjectPKInfo');
  if (children(keyInfo).length !== 2) throw new DerError('subjectPKInfo is not { algorithm, subjectPublicKey }');
  if (extra.length > 0) throw new DerError('certificationRequestInfo has fields after its attributes');
  const extensions = new Map<string, Buffer>();
  if (attributes !== undefined) {
    expectTag(attributes, 0xa0, 'attributes');
    for (const attribute of children(attributes)) {
      const [type, values] = children(expectTag(attribute, TAG.sequence, 'an attribute'));
      const id = oidText(expectTag(type, TAG.oid, 'an attribute type').contents);
      const set = children(expectTag(values, TAG.set, `the values of attribute ${id}`));
      if (id !== EXTENSION_REQUEST) continue;
      if (set.length !== 1) throw new DerError('extensionRequest must have exactly one value');
      for (const ext of children(expectTag(set[0], TAG.sequence, 'the requested extensions'))) {
        const fields = children(expectTag(ext, TAG.sequence, 'a requested extension'));
        const extId = oidText(expectTag(fields[0], TAG.oid, 'an extension id').contents);
        const value = expectTag(fields.at(-1), TAG.octetString, `the value of extension ${extId}`);
        if (fields.length > 3 || (fields.length === 3 && fields[1]!.tag !== TAG.boolean)) throw new DerError(`extension ${extId} is not { id, critical, value }`);
        extensions.set(extId, value.contents);
      }
    }
  }
  const [algorithm] = children(expectTag(parts[1], TAG.sequence, 'signatureAlgorithm'));
  const signatureAlgorithm = oidText(expectTag(algorithm, TAG.oid, 'the signature algorithm').contents);
  const bits = expectTag(parts[2], TAG.bitString, 'signature').contents;
  if (bits.length < 2 || bits[0] !== 0) throw new DerError('signature is not a whole number of bytes');
  return { info: info.raw, spki: Buffer.from(keyInfo.raw), signatureAlgorithm, signature: bits.subarray(1), extensions };
}

/** basicConstraints { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }: cA set? */
function isCa(value: Buffer): boolean {
  try {
    const [first] = children(expectTag(single(value), TAG.sequence, 'basicConstraints'));
    return first?.tag === TAG.boolean && first.contents.length === 1 && first.contents[0] !== 0;
  } catch (e) {
    throw invalid(`the requested basicConstraints extension is malformed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Signature algorithms of a request that node:crypto checks directly: OID -> digest (null: Ed25519). */
const NODE_VERIFIED: ReadonlyMap<string, string | null> = new Map([
  ['1.2.840.10045.4.3.2', 'sha256'], ['1.2.840.10045.4.3.3', 'sha384'], ['1.2.840.10045.4.3.4', 'sha512'],
  ['1.2.840.113549.1.1.11', 'sha256'], ['1.2.840.113549.1.1.12', 'sha384'], ['1.2.840.113549.1.1.13', 'sha512'],
  ['1.3.101.112', null],
]);

/**
 * The request's signature over its own bytes (as they came: a re-encoding could differ from a
 * non-canonical request), with node:crypto for the usual algorithms (ECDSA and PKCS#1 signatures
 * are DER in the request, as node:crypto reads them); others (RSA-PSS with its parameters)
 * through the X.509 library, about ten times slower.
 */
async function verifyCsr(csr: ParsedCsr, der: Buffer, key: KeyObject): Promise<boolean> {
  const digest = NODE_VERIFIED.get(csr.signatureAlgorithm);
  if (digest === undefined) {
    return new x509.Pkcs10CertificateRequest(der).verify();
  }
  return verify(digest, csr.info, key, csr.signature);
}

/** The key spec of a SubjectPublicKeyInfo, or a ValidationException for a kind Keyward does not certify. */
export function keySpecOf(spki: Buffer): string {
  return readSubjectKey(spki).keySpec;
}

function readSubjectKey(spki: Buffer): { keySpec: string; key: KeyObject } {
  let key;
  try {
    key = commonKey(spki) ?? createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch {
    throw invalid('the public key cannot be read');
  }
  return { keySpec: subjectKeySpec(key), key };
}

/**
 * The DER SubjectPublicKeyInfo of the usual member keys, up to the key bytes: an uncompressed
 * P-256 or P-384 point (namedCurve parameters), an Ed25519 key. OpenSSL 3 reads DER keys through
 * its decoder framework, about twice the cost of building the same key from JWK coordinates.
 */
const COMMON_SPKI: ReadonlyArray<{ prefix: Buffer; jwk: (k: Buffer) => JsonWebKey | undefined }> = [
  { prefix: Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'), jwk: (k) => ecJwk('P-256', k, 32) },
  { prefix: Buffer.from('3076301006072a8648ce3d020106052b81040022036200', 'hex'), jwk: (k) => ecJwk('P-384', k, 48) },
  { prefix: Buffer.from('302a300506032b6570032100', 'hex'), jwk: (k) => (k.length === 32 ? { kty: 'OKP', crv: 'Ed25519', x: k.toString('base64url') } : undefined) },
];

function ecJwk(crv: string, point: Buffer, size: number): JsonWebKey | undefined {
  if (point.length !== 1 + 2 * size || point[0] !== 0x04) return undefined;
  return { kty: 'EC', crv, x: point.subarray(1, 1 + size).toString('base64url'), y: point.subarray(1 + size).toString('base64url') };
}

/** The key of a SubjectPublicKeyInfo in exactly one of the common encodings above (undefined otherwise: read as DER). */
function commonKey(spki: Buffer): KeyObject | undefined {
  for (const { prefix, jwk } of COMMON_SPKI) {
    if (spki.length <= prefix.length || !spki.subarray(0, prefix.length).equals(prefix)) continue;
    const key = jwk(spki.subarray(prefix.length));
    // the point is checked to be on the curve when the key is built
    return key === undefined ? undefined : createPublicKey({ key, format: 'jwk' });
  }
  return undefined;
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
  return { spki: toBuffer(await webcrypto.subtle.exportKey('spki', keys.publicKey)), keySpec: 'EC_P256', privateKeyPem };
}
