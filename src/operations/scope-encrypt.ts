import { authorizeKey } from './common/key-access.js';
import { ENCRYPTION_CONTEXT_RULE, encryptUnder } from './common/ciphertext.js';
import { keyArnOf } from './common/resolve-key.js';
import { keyVersionId, provisionScope, readScope, versionOf } from './common/scope.js';
import { defineOperation } from './context.js';
import { MAX_PLAINTEXT_BYTES } from './encrypt.js';

/**
 * Keyward extension (miniKMS's Encrypt): encrypts under a scope's key, creating the scope on
 * first use; KeyVersionId names the exact version used (Decrypt takes it back).
 */
export const scopeEncrypt = defineOperation({
  name: 'ScopeEncrypt',
  namespace: 'Keyward',
  plane: 'data',
  parse: (input) => ({
    scope: readScope(input),
    plaintext: input.requiredBlob('Plaintext', { min: 0, max: MAX_PLAINTEXT_BYTES }),
    context: input.stringMap('EncryptionContext', ENCRYPTION_CONTEXT_RULE),
  }),
  async run(ctx, req) {
    try {
      const { key } = await provisionScope(ctx, req.scope);
      await authorizeKey(ctx, key, { action: 'Encrypt', context: req.context });
      const blob = await encryptUnder(ctx, key, req.plaintext, req.context);
      return { CiphertextBlob: blob, KeyId: keyArnOf(ctx, key), KeyVersionId: keyVersionId(key, versionOf(blob)), ScopeId: req.scope.scopeId };
    } finally {
      req.plaintext.fill(0);
    }
  },
});
