/**
 * A secret answered once (a new principal's SigV4 secret, Shamir shares), as the bytes of its text: the HTTP
 * transport splices them into its answer without making a string of them, and wipeResult zeroes
 * them after. Anything else that serialises it (toJSON, String) gets the text, as before.
 */
export class SecretText {
  constructor(readonly bytes: Buffer) {}

  toString(): string {
    return this.bytes.toString('utf8');
  }

  toJSON(): string {
    return this.toString();
  }
}

const B64 = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/');

/**
 * Bytes to their base64 text, as bytes in `out` (padded; `out` must hold 4 * ceil(n / 3) bytes):
 * Buffer's own toString('base64') would make a string of the secret.
 */
export function base64Into(bytes: Uint8Array, out: Buffer): Buffer {
  let o = 0;
  for (let i = 0; i < bytes.length; i += 3) {
    const n = bytes.length - i;
    const v = (bytes[i]! << 16) | ((n > 1 ? bytes[i + 1]! : 0) << 8) | (n > 2 ? bytes[i + 2]! : 0);
    out[o++] = B64[(v >> 18) & 63]!;
    out[o++] = B64[(v >> 12) & 63]!;
    out[o++] = n > 1 ? B64[(v >> 6) & 63]! : 0x3d;
    out[o++] = n > 2 ? B64[v & 63]! : 0x3d;
  }
  return out;
}
