import { defineBatch } from './common/batch.js';
import { scopeDecrypt } from './scope-decrypt.js';

/** Keyward extension (miniKMS's BatchDecrypt): up to 1,000 ScopeDecrypts, each answered and audited on its own. */
export const batchScopeDecrypt = defineBatch('BatchScopeDecrypt', scopeDecrypt, ['TenantId', 'ScopeId']);
