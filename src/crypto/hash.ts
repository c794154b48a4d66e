import { createHmac, hash } from 'node:crypto';

// crypto.hash is the one-shot digest (Node >= 20.12): a fraction of createHash's cost for small inputs

export function sha256(data: Uint8Array | string): Buffer {
  return hash('sha256', data, 'buffer');
}

export function sha256Hex(data: Uint8Array | string): string {
  return hash('sha256', data, 'hex');
}

export function hmacSha256(key: Uint8Array, data: Uint8Array | string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** HMAC with any hash node:crypto knows (sha224 ... sha512): GenerateMac and VerifyMac. */
export function hmac(hash: string, key: Uint8Array, data: Uint8Array): Buffer {
  return createHmac(hash, key).update(data).digest();
}
