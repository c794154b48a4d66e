import { ENCRYPTION_CONTEXT_RULE } from './common/ciphertext.js';
import { keyArnOf } from './common/resolve-key.js';
import { decryptInScope, keyVersionId, readScope, requireScope } from './common/scope.js';
import { defineOperation } from './context.js';

/**
 * Keyward extension (miniKMS's Decrypt): decrypts a ciphertext of a scope, with whichever version
 * made it (older versions decrypt until disabled or destroyed).
 */
export const scopeDecrypt = defineOperation({
  name: 'ScopeDecrypt',
  namespace: 'Keyward',
  plane: 'data',
  parse: (input) => ({
    scope: readScope(input),
    blob: input.requiredBlob('CiphertextBlob', { min: 1, max: 6144 }),
    context: input.stringMap('EncryptionContext', ENCRYPTION_CONTEXT_RULE),
    keyVersionId: input.string('KeyVersionId', { min: 1, max: 64 }),
  }),
  async run(ctx, req) {
    const key = await requireScope(ctx, req.scope);
    const { plaintext, version } = await decryptInScope(ctx, key, req.blob, req.context, { value: req.keyVersionId, field: 'KeyVersionId' });
    return { Plaintext: plaintext, KeyId: keyArnOf(ctx, key), KeyVersionId: keyVersionId(key, version), ScopeId: req.scope.scopeId };
  },
});
