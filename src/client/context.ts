import { canonicalContext } from '../format/encryption-context.js';
import { KeywardUsageError } from './errors.js';
import type { EncryptionContext } from './keyward-client.js';

/** Validates an encryption context and returns its canonical bytes (the AAD every envelope binds). */
export function contextBytes(context: EncryptionContext | undefined): Buffer {
  if (context === undefined) return canonicalContext(undefined);
  if (context === null || typeof context !== 'object' || Array.isArray(context)) throw new KeywardUsageError('context must be an object of string keys and string values');
  for (const [k, v] of Object.entries(context)) {
    if (typeof v !== 'string') throw new KeywardUsageError(`context value for ${JSON.stringify(k)} must be a string`);
    if (k === '') throw new KeywardUsageError('context keys must not be empty');
  }
  return canonicalContext(context);
}
