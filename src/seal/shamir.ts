import { combine, split } from 'shamir-secret-sharing';
import { KeywardError } from '../errors/index.js';

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

/** Splits a 32-byte secret into base64 shares (1-of-1 is the secret itself with an x byte). */
export async function splitSecret(secret: Buffer, layout: ShareLayout): Promise<string[]> {
  checkShareLayout(layout);
  if (layout.shares === 1) return [Buffer.concat([secret, Buffer.from([1])]).toString('base64')];
  const parts = await split(new Uint8Array(secret), layout.shares, layout.threshold);
  return parts.map((p) => Buffer.from(p).toString('base64'));
}

/** Decodes one base64 share; a malformed one is a ValidationException naming the problem. */
export function decodeShare(share: string, field = 'share'): Buffer {
  const trimmed = share.trim();
  const bytes = Buffer.from(trimmed, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || bytes.length !== SHARE_BYTES || bytes[SHARE_BYTES - 1] === 0) {
    throw new KeywardError('ValidationException', `The ${field} is not a Keyward share: expected ${SHARE_BYTES} bytes in base64 as printed at init or rekey.`);
  }
  return bytes;
}

/**
 * Combines exactly `threshold` distinct shares. The result is only a candidate: the library
 * cannot tell a wrong combination, so callers compare it with a check value.
 */
export async function combineShares(shares: readonly Buffer[]): Promise<Buffer> {
  if (shares.length === 1) return Buffer.from(shares[0]!.subarray(0, SECRET_BYTES));
  const xs = new Set(shares.map((s) => s[SHARE_BYTES - 1]));
  if (xs.size !== shares.length) throw new KeywardError('ValidationException', 'The same share was given twice.');
  return Buffer.from(await combine(shares.map((s) => new Uint8Array(s))));
}
