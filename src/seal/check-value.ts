import { constantTimeEqual, hmacSha256 } from '../crypto/index.js';

/**
 * A key check value: HMAC-SHA256 of a fixed label under the key, truncated to 128 bits. It lets
 * Keyward tell a wrong key (wrong share combination, wrong static key) from a damaged record
 * without revealing anything about a 256-bit random key.
 */
const LABEL = 'keyward/seal/check-value/v1';

export function checkValueOf(key: Uint8Array): string {
  return hmacSha256(key, LABEL).subarray(0, 16).toString('base64');
}

export function matchesCheckValue(key: Uint8Array, checkValue: string): boolean {
  return constantTimeEqual(Buffer.from(checkValueOf(key), 'base64'), Buffer.from(checkValue, 'base64'));
}
