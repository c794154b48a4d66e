import { randomBytes as nodeRandomBytes, randomFillSync, randomUUID } from 'node:crypto';

/** Random bytes for secrets (keys): straight from the CSPRNG, never pooled. */
export function randomBytes(length: number): Buffer {
  return nodeRandomBytes(length);
}

const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let poolOffset = POOL_BYTES;

/**
 * Random bytes for public values (nonces, salts) from a pool refilled from the CSPRNG 4 KiB at a
 * time: a CSPRNG call per 12-byte nonce costs more than the AES-GCM it feeds. Bytes handed out
 * are wiped from the pool, so no value is ever given twice.
 */
export function randomNonce(length: number): Buffer {
  if (length > 256) return nodeRandomBytes(length);
  if (poolOffset + length > POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const out = Buffer.allocUnsafe(length);
  pool.copy(out, 0, poolOffset, poolOffset + length);
  pool.fill(0, poolOffset, poolOffset + length);
  poolOffset += length;
  return out;
}

/** Fills `target[offset, offset + length)` with public random bytes from the same pool as randomNonce. */
export function fillNonce(target: Buffer, offset: number, length: number): void {
  if (length > 256) {
    randomFillSync(target, offset, length);
    return;
  }
  if (poolOffset + length > POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  pool.copy(target, offset, poolOffset, poolOffset + length);
  pool.fill(0, poolOffset, poolOffset + length);
  poolOffset += length;
}

export function randomId(): string {
  return randomUUID();
}

/** URL-safe random string with `bytes` bytes of entropy. */
export function randomToken(bytes = 32): string {
  return nodeRandomBytes(bytes).toString('base64url');
}
