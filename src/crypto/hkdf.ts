import { hash } from 'node:crypto';

const HASH_BYTES = 32;
const BLOCK_BYTES = 64;
const MAX_LENGTH = 255 * HASH_BYTES;
/** Padded inputs up to this size use a kept scratch buffer of their exact size; larger ones get their own. */
const SCRATCH_MAX = BLOCK_BYTES + 256;

/**
 * Off-heap scratch buffers for the padded key and message of each HMAC, one per size (V8 keeps
 * small typed arrays in its heap, where a collection could move a copy of the key). Exact sizes,
 * because hashing a view costs more than hashing a whole buffer. Zeroed after every use; the
 * functions below are synchronous, so a buffer is never shared.
 */
const scratch = new Map<number, Buffer>();

function scratchOf(size: number): Buffer {
  if (size > SCRATCH_MAX) return Buffer.allocUnsafeSlow(size);
  let b = scratch.get(size);
  if (b === undefined) {
    b = Buffer.allocUnsafeSlow(size);
    scratch.set(size, b);
  }
  return b;
}

function pad(out: Buffer, key: Uint8Array, byte: number): void {
  for (let i = 0; i < BLOCK_BYTES; i++) out[i] = (i < key.length ? key[i]! : 0) ^ byte;
}

/**
 * HMAC-SHA256 (RFC 2104) of `m1 || m2 || [m3]` over node:crypto's one-shot hash:
 * H((K ^ opad) || H((K ^ ipad) || m)). Four short native calls per HKDF instead of two Hmac
 * objects (a native object each, which the collector must also finalise).
 */
function hmacSha256Of(key: Uint8Array, m1: Uint8Array, m2: Uint8Array | undefined, m3: number | undefined): Buffer {
  const k = key.length > BLOCK_BYTES ? hash('sha256', key, 'buffer') : key;
  const innerLength = BLOCK_BYTES + m1.length + (m2?.length ?? 0) + (m3 === undefined ? 0 : 1);
  const inner = scratchOf(innerLength);
  const outer = scratchOf(BLOCK_BYTES + HASH_BYTES);
  try {
    pad(inner, k, 0x36);
    inner.set(m1, BLOCK_BYTES);
    if (m2 !== undefined) inner.set(m2, BLOCK_BYTES + m1.length);
    if (m3 !== undefined) inner[innerLength - 1] = m3;
    const innerHash = hash('sha256', inner, 'buffer');
    pad(outer, k, 0x5c);
    outer.set(innerHash, BLOCK_BYTES);
    innerHash.fill(0);
    return hash('sha256', outer, 'buffer');
  } finally {
    inner.fill(0);
    outer.fill(0);
    if (k !== key) k.fill(0);
  }
}

const ZERO_SALT = new Uint8Array(HASH_BYTES);

/**
 * HKDF-SHA256 (RFC 5869): extract, then as many expand blocks as `length` needs (one for a
 * 256-bit key). Node's hkdfSync gives the same bytes (a unit test holds them equal, with the
 * RFC's vectors) but costs several times as much per call, and the hot path derives a key per
 * message. Returns a fresh Buffer the caller owns (and should zeroize).
 */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array | string, length = 32): Buffer {
  if (!Number.isInteger(length) || length < 1 || length > MAX_LENGTH) throw new RangeError(`HKDF-SHA256 output length must be 1 to ${MAX_LENGTH}`);
  const infoBytes = typeof info === 'string' ? Buffer.from(info, 'utf8') : info;
  // RFC 5869 2.2: an empty salt is HashLen zero bytes
  const prk = hmacSha256Of(salt.length === 0 ? ZERO_SALT : salt, ikm, undefined, undefined);
  try {
    const blocks = Math.ceil(length / HASH_BYTES);
    if (blocks === 1) {
      const t = hmacSha256Of(prk, infoBytes, undefined, 1);
      if (length === HASH_BYTES) return t;
      const okm = Buffer.from(t.subarray(0, length));
      t.fill(0);
      return okm;
    }
    const okm = Buffer.alloc(length);
    let previous: Buffer | undefined;
    for (let i = 1; i <= blocks; i++) {
      const t: Buffer = previous === undefined ? hmacSha256Of(prk, infoBytes, undefined, i) : hmacSha256Of(prk, previous, infoBytes, i);
      t.copy(okm, (i - 1) * HASH_BYTES, 0, Math.min(HASH_BYTES, length - (i - 1) * HASH_BYTES));
      previous?.fill(0);
      previous = t;
    }
    previous?.fill(0);
    return okm;
  } finally {
    prk.fill(0);
  }
}
