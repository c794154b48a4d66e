import { defineBatch } from './common/batch.js';
import { scopeEncrypt } from './scope-encrypt.js';

/** Keyward extension (miniKMS's BatchEncrypt): up to 1,000 ScopeEncrypts, each answered and audited on its own. */
export const batchScopeEncrypt = defineBatch('BatchScopeEncrypt', scopeEncrypt, ['TenantId', 'ScopeId']);
