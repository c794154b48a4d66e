import { combine, split } from 'shamir-secret-sharing';
import { secretBuffer, zeroize } from '../crypto/index.js';
import { KeywardError } from '../errors/index.js';
import { base64Into, SecretText } from '../format/index.js';

/** Shamir k-of-n over GF(2^8) by `shamir-secret-sharing`; a share is the secret's length plus one x byte. */
export const MAX_SHARES = 255;
const SECRET_BYTES = 32;
const SHARE_BYTES = SECRET_BYTES + 1;

export interface ShareLayout {
  readonly shares: number;
  readonly threshold: number;
}

export function checkShareLayout(layout: ShareLayout, what = 'shares'): void {
  const { shares, threshold } = layout;
  if (!Number.isInteger(shares) || shares < 1 || shares > MAX_SHARES) {
    throw new KeywardError('ValidationException', `The number of ${what} must be an integer from 1 to ${MAX_SHARES}, got ${String(shares)}.`);
  }
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > shares) {
    throw new KeywardError('ValidationException', `The ${what} threshold must be an integer from 1 to the number of ${what} (${shares}), got ${String(threshold)}.`);
  }
  if (threshold === 1 && shares > 1) {
    throw new KeywardError('ValidationException', `A threshold of 1 with ${shares} ${what} would make every share a full key; use a threshold of at least 2, or 1 share.`);
  }
}

/**
 * Splits a 32-byte secret into base64 shares (1-of-1 is the secret itself with an x byte), each the
 * bytes of its text off the JavaScript heap (answered once, then zeroed by whoever sends them). The
 * library's own arrays (<= 64 bytes, in V8's heap) are zeroed as soon as they are read; copies a
 * garbage collection made of them before that cannot be reached (docs/security.md).
 */
export async function splitSecret(secret: Buffer, layout: ShareLayout): Promise<SecretText[]> {
  checkShareLayout(layout);
  if (layout.shares === 1) {
    const one = secretBuffer(SHARE_BYTES);
    secret.copy(one);
    one[SECRET_BYTES] = 1;
    try {
      return [shareText(one)];
    } finally {
      zeroize(one);
    }
  }
  const input = libraryBytes(secret);
  let parts: Uint8Array[] = [];
  try {
    parts = await split(input, layout.shares, layout.threshold);
    return parts.map(shareText);
  } finally {
    zeroize(input, ...parts);
  }
}

/** A copy for the library (it wants exactly a Uint8Array, not a Buffer), off the JavaScript heap. */
function libraryBytes(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(new ArrayBuffer(bytes.length));
  copy.set(bytes);
  return copy;
}

function shareText(share: Uint8Array): SecretText {
  return new SecretText(base64Into(share, secretBuffer(4 * Math.ceil(share.length / 3))));
}

/**
 * Decodes one base64 share; a malformed one is a ValidationException naming the problem. A share
 * given as bytes (its text, as a transport read it without making a string) is decoded as bytes.
 */
export function decodeShare(share: string | Buffer, field = 'share'): Buffer {
  const bytes = typeof share === 'string' ? base64Text(share.trim()) : base64Bytes(share);
  if (bytes === undefined || bytes.length !== SHARE_BYTES || bytes[SHARE_BYTES - 1] === 0) {
    bytes?.fill(0);
    throw new KeywardError('ValidationException', `The ${field} is not a Keyward share: expected ${SHARE_BYTES} bytes in base64 as printed at init or rekey.`);
  }
  return bytes;
}

function base64Text(text: string): Buffer | undefined {
  return /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? Buffer.from(text, 'base64') : undefined;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_VALUE = new Int8Array(256).fill(-1);
for (let i = 0; i < 64; i++) B64_VALUE[B64.charCodeAt(i)] = i;

/** Base64 text (surrounding white space allowed, '=' padding optional) to bytes, without a string. */
function base64Bytes(text: Uint8Array): Buffer | undefined {
  let start = 0;
  let end = text.length;
  const space = (b: number) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
  while (start < end && space(text[start]!)) start++;
  while (end > start && space(text[end - 1]!)) end--;
  let pad = 0;
  while (pad < 2 && end > start && text[end - 1] === 0x3d) {
    end--;
    pad++;
  }
  if (end === start || (end - start) % 4 === 1) return undefined;
  const out = secretBuffer(Math.floor(((end - start) * 6) / 8));
  let acc = 0;
  let bits = 0;
  let n = 0;
  for (let i = start; i < end; i++) {
    const v = B64_VALUE[text[i]!]!;
    if (v < 0) {
      out.fill(0);
      return undefined;
    }
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

/**
 * Combines exactly `threshold` distinct shares. The result is only a candidate: the library
 * cannot tell a wrong combination, so callers compare it with a check value.
 */
export async function combineShares(shares: readonly Buffer[]): Promise<Buffer> {
  if (shares.length === 1) {
    const key = secretBuffer(SECRET_BYTES);
    shares[0]!.copy(key, 0, 0, SECRET_BYTES);
    return key;
  }
  const xs = new Set(shares.map((s) => s[SHARE_BYTES - 1]));
  if (xs.size !== shares.length) throw new KeywardError('ValidationException', 'The same share was given twice.');
  // copies the library may keep are off-heap (zeroed here); its result is copied off-heap and zeroed
  const inputs = shares.map(libraryBytes);
  let combined: Uint8Array | undefined;
  try {
    combined = await combine(inputs);
    const key = secretBuffer(combined.length);
    key.set(combined);
    return key;
  } finally {
    zeroize(...inputs, combined);
  }
}
