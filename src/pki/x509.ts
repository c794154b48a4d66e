// @peculiar/x509 reads decorator metadata: reflect-metadata must be loaded before it.
import 'reflect-metadata';
import { createHash, sign, webcrypto, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { DirectoryString } from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import { TAG, children, expectTag, extension, oid, sequence, single, time, tlv, unsignedInteger, utf8String } from './der.js';
import { OID } from './names.js';

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
const ECDSA_SHA384 = sequence(oid('1.2.840.10045.4.3.3'));
/** [0] EXPLICIT INTEGER 2: an X.509 v3 certificate. */
const VERSION_3 = Buffer.from([0xa0, 0x03, 0x02, 0x01, 0x02]);

/** What a CA contributes to every certificate it signs, read once from its certificate. */
export interface Issuer {
  readonly certificate: x509.X509Certificate;
  /** Its subject Name, as the bytes of its certificate (the issuer field of what it signs). */
  readonly name: Buffer;
  /** Its subject key identifier (hex), which its certificates name as their authority key identifier. */
  readonly keyIdentifier: string;
  /** The authorityKeyIdentifier extension of the certificates it signs (DER). */
  readonly authorityKeyIdentifier: Buffer;
}

export function readIssuer(der: Buffer): Issuer {
  const certificate = new x509.X509Certificate(der);
  // Certificate { tbsCertificate { [0] version, serial, signature, issuer, validity, subject, spki, ... } }
  const tbs = children(expectTag(children(single(der))[0], TAG.sequence, 'tbsCertificate'));
  const fields = tbs[0]?.tag === 0xa0 ? tbs.slice(1) : tbs;
  const name = Buffer.from(expectTag(fields[4], TAG.sequence, 'the CA subject').raw);
  const keyId = keyIdentifier(expectTag(fields[5], TAG.sequence, 'the CA subjectPublicKeyInfo').raw);
  return { certificate, name, keyIdentifier: keyId, authorityKeyIdentifier: Buffer.from(new x509.AuthorityKeyIdentifierExtension(keyId).rawData) };
}

/** The key identifier RFC 5280 4.2.1.2 (1) describes: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(spki: Uint8Array): string {
  return keyIdentifierBytes(spki).toString('hex');
}

function keyIdentifierBytes(spki: Uint8Array): Buffer {
  // SubjectPublicKeyInfo { algorithm, subjectPublicKey BIT STRING }: the bits after the unused-bits octet
  const [, bits] = children(expectTag(single(Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength)), TAG.sequence, 'subjectPublicKeyInfo'));
  return createHash('sha1').update(expectTag(bits, TAG.bitString, 'subjectPublicKey').contents.subarray(1)).digest();
}

/** The subject of a member certificate: O=Keyward, OU=<tenant>, CN=<principal>. */
export interface MemberName {
  readonly der: Buffer;
  /** RFC 4514 text, as @peculiar/x509's Name writes it (what CertificateRecord.subject has always held). */
  readonly text: string;
}

const NAME_TYPES = { O: '2.5.4.10', OU: '2.5.4.11', CN: '2.5.4.3' } as const;
const NAME_OIDS = { O: oid(NAME_TYPES.O), OU: oid(NAME_TYPES.OU), CN: oid(NAME_TYPES.CN) };

export function memberName(tenantId: string, principal: string): MemberName {
  const rdns: Array<[keyof typeof NAME_TYPES, string]> = [['O', 'Keyward'], ['OU', tenantId], ['CN', principal]];
  const der = sequence(...rdns.map(([type, value]) => tlv(TAG.set, sequence(NAME_OIDS[type],
    // the library's choice: PrintableString when the text allows it, else UTF8String
    /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(value) ? tlv(TAG.printableString, Buffer.from(value, 'latin1')) : utf8String(value)))));
  const text = rdns.map(([type, value]) => `${type}=${value.replace(/([,+"\\<>;])/g, '\\$1').replace(/^([ #])/, '\\$1').replace(/([ ]$)/, '\\$1')}`).join(', ');
  return { der, text };
}

/** The fields of a member certificate that differ from one to the next. */
export interface MemberFields {
  readonly serialNumber: string;
  readonly subject: MemberName;
  /** DER SubjectPublicKeyInfo (an allowed key: see csr.ts). */
  readonly publicKey: Uint8Array;
  /** keyEncipherment beside digitalSignature (RSA keys). */
  readonly keyEncipherment: boolean;
  /** Whole seconds: an X.509 time has no fractions. */
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly email?: string;
  readonly principal: string;
  readonly tenantId: string;
  readonly role: string;
  /** Extensions after the member, tenant and role ones (the CRL and OCSP URLs), DER. */
  readonly trailing: readonly Buffer[];
}

/** Extensions every member certificate carries, the same bytes each time: made once with the library. */
let fixed: { basicConstraints: Buffer; keyUsage: Buffer; keyUsageRsa: Buffer; clientAuth: Buffer } | undefined;

function fixedExtensions(): NonNullable<typeof fixed> {
  fixed ??= {
    basicConstraints: Buffer.from(new x509.BasicConstraintsExtension(false, undefined, true).rawData),
    keyUsage: Buffer.from(new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true).rawData),
    keyUsageRsa: Buffer.from(new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true).rawData),
    clientAuth: Buffer.from(new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]).rawData),
  };
  return fixed;
}

/**
 * The DER TBSCertificate of a member certificate, written directly: the issuer's name and key
 * identifier and the fixed extensions are bytes made once; only serial, validity, subject, key,
 * key identifier and the member/tenant/role extensions are encoded per call. Same bytes as the
 * library builds from the same fields (test/unit/pki/member-certificate.test.ts).
 */
export function memberTbs(issuer: Issuer, f: MemberFields): Buffer {
  const ext = fixedExtensions();
  const extensions = [
    ext.basicConstraints,
    f.keyEncipherment ? ext.keyUsageRsa : ext.keyUsage,
    ext.clientAuth,
    extension('2.5.29.14', tlv(TAG.octetString, keyIdentifierBytes(f.publicKey))),
    issuer.authorityKeyIdentifier,
    // subjectAltName: GeneralNames { rfc822Name [1] IMPLICIT IA5String }
    ...(f.email !== undefined ? [extension('2.5.29.17', sequence(tlv(0x81, Buffer.from(f.email, 'latin1'))))] : []),
    extension(OID.member, utf8String(f.principal)),
    extension(OID.tenant, utf8String(f.tenantId)),
    extension(OID.role, utf8String(f.role)),
    ...f.trailing,
  ];
  return sequence(
    VERSION_3,
    unsignedInteger(Buffer.from(f.serialNumber, 'hex')),
    ECDSA_SHA384,
    issuer.name,
    sequence(time(f.notBefore), time(f.notAfter)),
    f.subject.der,
    f.publicKey,
    tlv(0xa3, sequence(...extensions)),
  );
}

/** A certificate: the TBSCertificate signed by a CA key (P-384, ECDSA with SHA-384) with node:crypto. */
export function signTbs(tbs: Buffer, caKey: KeyObject): Buffer {
  const signature = sign('sha384', tbs, caKey);
  return sequence(tbs, ECDSA_SHA384, tlv(TAG.bitString, Buffer.from([0]), signature));
}
