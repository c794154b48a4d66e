import { randomBytes } from 'node:crypto';

/**
 * The light part of the PKI (no X.509 library): names, serial numbers and PEM. The X.509 and
 * ASN.1 libraries load on first use (engine.ts), so a process that never issues or checks a
 * certificate does not pay for them at start.
 */

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

export function toBuffer(data: ArrayBuffer | Uint8Array): Buffer {
  return data instanceof Uint8Array ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data);
}

/** RFC 7468 text: base64 in lines of 64, with a final newline so that PEM files concatenate into bundles. */
export function pem(der: ArrayBuffer | Uint8Array, label: 'CERTIFICATE' | 'X509 CRL' | 'PRIVATE KEY'): string {
  const lines = toBuffer(der).toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
