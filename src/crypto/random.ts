import { randomBytes as nodeRandomBytes, randomUUID } from 'node:crypto';

export function randomBytes(length: number): Buffer {
  return nodeRandomBytes(length);
}

export function randomId(): string {
  return randomUUID();
}

/** URL-safe random string with `bytes` bytes of entropy. */
export function randomToken(bytes = 32): string {
  return nodeRandomBytes(bytes).toString('base64url');
}
