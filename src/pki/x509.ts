// @peculiar/x509 reads decorator metadata: reflect-metadata must be loaded before it.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { DirectoryString } from '@peculiar/asn1-x509';
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
