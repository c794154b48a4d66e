import { hkdfSync } from 'node:crypto';

/** HKDF-SHA256 (RFC 5869). Returns a fresh Buffer the caller owns (and should zeroize). */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array | string, length = 32): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
}
