import { defineBatch } from './common/batch.js';
import { decrypt } from './decrypt.js';

/**
 * Keyward extension: up to 1,000 Decrypts in one request, each answered and audited on its own;
 * a failed item is the same error (InvalidCiphertextException for every cryptographic failure)
 * it would be alone.
 */
export const batchDecrypt = defineBatch('BatchDecrypt', decrypt, ['KeyId']);
