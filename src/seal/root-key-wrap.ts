import { zeroize } from '../crypto/index.js';
import { KeywardError } from '../errors/index.js';
import { openRecord, sealRecord } from '../format/index.js';

/** AAD label binding a wrapped root key to its purpose (it cannot be confused with any record). */
const ROOT_KEY_LABEL = 'core/seal#root-key';

/** Seals the root key under an unseal key (AES-256-GCM via the stored-record format). */
export function wrapRootKey(unsealKey: Buffer, rootKey: Buffer): string {
  try {
    return sealRecord(ROOT_KEY_LABEL, 0, unsealKey, rootKey).toString('base64');
  } finally {
    zeroize(unsealKey);
  }
}

/** Opens a wrapped root key; a wrong unseal key is UnsealFailedException with `failure` as message. */
export function unwrapRootKey(unsealKey: Buffer, wrapped: string, failure: string): Buffer {
  try {
    return openRecord(ROOT_KEY_LABEL, unsealKey, Buffer.from(wrapped, 'base64'));
  } catch {
    throw new KeywardError('UnsealFailedException', failure);
  } finally {
    zeroize(unsealKey);
  }
}
