// @peculiar/x509 reads decorator metadata: reflect-metadata must be loaded before it.
import 'reflect-metadata';
import { createHash, sign, webcrypto, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate, DirectoryString, Extension, Extensions, Name, SubjectPublicKeyInfo, TBSCertificate, Validity, Version } from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };

/** An extension value: a DER string (UTF8String), as Go's asn1.Marshal writes for non-printable text. */
export function stringExtension(oid: string, value: string): x509.Extension {
  return new x509.Extension(oid, false, AsnConvert.serialize(new DirectoryString({ utf8String: value })));
}

/** Reads a string extension (UTF8String or PrintableString), or undefined when absent or malformed. */
export function readStringExtension(cert: x509.X509Certificate, oid: string): string | undefined {
  const ext = cert.getExtension(oid);
  if (ext === null) return undefined;
  try {
    const s = AsnConvert.parse(ext.value, DirectoryString);
    return s.utf8String ?? s.printableString;
  } catch {
    return undefined;
  }
}

/** ecdsa-with-SHA384 (RFC 5758: no parameters), the signature of every CA key (P-384). */
const ECDSA_SHA384 = '1.2.840.10045.4.3.3';

export interface CertificateFields {
  readonly serialNumber: string;
  readonly issuer: Issuer;
  readonly subject: x509.Name;
  /** DER SubjectPublicKeyInfo. */
  readonly publicKey: ArrayBuffer | Uint8Array;
  /** Whole seconds: an X.509 time has no fractions. */
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly extensions: readonly x509.Extension[];
}

/**
 * A certificate signed by a CA key with node:crypto. @peculiar/x509's generator builds the same
 * structures but signs through WebCrypto and re-encodes every part, about three times the cost
 * of an issuance here; the ASN.1 structures still come from the library.
 */
export function signCertificate(fields: CertificateFields, caKey: KeyObject): Buffer {
  const algorithm = new AlgorithmIdentifier({ algorithm: ECDSA_SHA384 });
  const tbsCertificate = new TBSCertificate({
    version: Version.v3,
    serialNumber: arrayBuffer(Buffer.from(fields.serialNumber, 'hex')),
    signature: algorithm,
    issuer: fields.issuer.name,
    validity: new Validity({ notBefore: fields.notBefore, notAfter: fields.notAfter }),
    subject: AsnConvert.parse(fields.subject.toArrayBuffer(), Name),
    subjectPublicKeyInfo: AsnConvert.parse(fields.publicKey, SubjectPublicKeyInfo),
    extensions: new Extensions(fields.extensions.map((e) => AsnConvert.parse(e.rawData, Extension))),
  });
  const signatureValue = sign('sha384', Buffer.from(AsnConvert.serialize(tbsCertificate)), caKey);
  return Buffer.from(AsnConvert.serialize(new Certificate({ tbsCertificate, signatureAlgorithm: algorithm, signatureValue: arrayBuffer(signatureValue) })));
}

/** What a CA contributes to every certificate it signs, read once from its certificate. */
export interface Issuer {
  readonly certificate: x509.X509Certificate;
  readonly name: Name;
  /** Its subject key identifier (hex), which its certificates name as their authority key identifier. */
  readonly keyIdentifier: string;
}

export function readIssuer(der: Buffer): Issuer {
  const asn = AsnConvert.parse(der, Certificate);
  const certificate = new x509.X509Certificate(asn);
  const spki = AsnConvert.serialize(asn.tbsCertificate.subjectPublicKeyInfo);
  return { certificate, name: asn.tbsCertificate.subject, keyIdentifier: keyIdentifier(spki) };
}

/** The key identifier RFC 5280 4.2.1.2 (1) describes: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(spki: ArrayBuffer | Uint8Array): string {
  const info = AsnConvert.parse(spki, SubjectPublicKeyInfo);
  return createHash('sha1').update(Buffer.from(info.subjectPublicKey)).digest('hex');
}

function arrayBuffer(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}
