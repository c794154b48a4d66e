// @peculiar/x509 reads decorator metadata: reflect-metadata must be loaded before it.
import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { DirectoryString } from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };

/**
 * Certificate extensions naming who a certificate is for. The arc and numbers are miniKMS's, so
 * certificates read the same by clients written for it: tenant (its "org"), role, member.
 */
export const OID = {
  tenant: '1.3.6.1.4.1.99999.1',
  role: '1.3.6.1.4.1.99999.2',
  member: '1.3.6.1.4.1.99999.3',
} as const;

/** CA keys: ECDSA P-384 signing with SHA-384 (miniKMS's choice for its root and org CAs). */
export const CA_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' } as const;
/** Key pairs Keyward generates for members: ECDSA P-256. */
export const MEMBER_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/**
 * A random positive serial number of 128 bits (RFC 5280 allows up to 20 octets; CA/B asks for at
 * least 64 random bits), as lowercase hex without a leading zero octet.
 */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}

/** Serial numbers as callers write them: hex, any case, optional colons; normalised to lowercase without leading zero octets. */
export function normalizeSerial(text: string): string | undefined {
  const hex = text.replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{1,40}$/.test(hex)) return undefined;
  const trimmed = hex.replace(/^(00)+(?=..)/, '');
  return trimmed.length % 2 === 1 ? `0${trimmed}` : trimmed;
}

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

export function pem(der: ArrayBuffer | Uint8Array, label: 'CERTIFICATE' | 'X509 CRL' | 'PRIVATE KEY'): string {
  const body = der instanceof Uint8Array ? der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength) as ArrayBuffer : der;
  // a final newline, so that PEM files concatenate into bundles
  return `${x509.PemConverter.encode(body, label)}\n`;
}

export function toBuffer(data: ArrayBuffer | Uint8Array): Buffer {
  return data instanceof Uint8Array ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data);
}
