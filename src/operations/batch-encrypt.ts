import { defineBatch } from './common/batch.js';
import { encrypt } from './encrypt.js';

/** Keyward extension: up to 1,000 Encrypts in one request, each answered and audited on its own. */
export const batchEncrypt = defineBatch('BatchEncrypt', encrypt, ['KeyId']);
