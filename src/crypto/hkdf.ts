import { createHmac } from 'node:crypto';

const HASH_BYTES = 32;
const MAX_LENGTH = 255 * HASH_BYTES;

/**
 * HKDF-SHA256 (RFC 5869) over node:crypto's HMAC: extract, then as many expand blocks as `length`
 * needs (one for a 256-bit key). Node's hkdfSync gives the same bytes (a unit test holds them
 * equal, with the RFC's vectors) but costs twice as much per call, and the hot path derives a
 * key per message. Returns a fresh Buffer the caller owns (and should zeroize).
 */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array | string, length = 32): Buffer {
  if (!Number.isInteger(length) || length < 1 || length > MAX_LENGTH) throw new RangeError(`HKDF-SHA256 output length must be 1 to ${MAX_LENGTH}`);
  // RFC 5869 2.2: an empty salt is HashLen zero bytes
  const prk = createHmac('sha256', salt.length === 0 ? Buffer.alloc(HASH_BYTES) : salt).update(ikm).digest();
  try {
    const blocks: Buffer[] = [];
    let previous = Buffer.alloc(0);
    for (let i = 1; i <= Math.ceil(length / HASH_BYTES); i++) {
      previous = createHmac('sha256', prk).update(previous).update(info).update(Buffer.of(i)).digest();
      blocks.push(previous);
    }
    const okm = blocks.length === 1 ? blocks[0]!.subarray(0, length) : Buffer.concat(blocks).subarray(0, length);
    if (blocks.length > 1) for (const b of blocks) b.fill(0);
    return okm;
  } finally {
    prk.fill(0);
  }
}
