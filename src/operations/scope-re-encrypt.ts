import { authorizeKey } from './common/key-access.js';
import { ENCRYPTION_CONTEXT_RULE, encryptUnder } from './common/ciphertext.js';
import { keyArnOf } from './common/resolve-key.js';
import { decryptInScope, keyVersionId, readScope, requireScope, versionOf } from './common/scope.js';
import { defineOperation } from './context.js';

/**
 * Keyward extension (miniKMS's ReEncrypt): decrypts a ciphertext of a scope and encrypts it again
 * under the scope's current version (after a rotation), inside Keyward.
 */
export const scopeReEncrypt = defineOperation({
  name: 'ScopeReEncrypt',
  namespace: 'Keyward',
  plane: 'data',
  parse: (input) => ({
    scope: readScope(input),
    blob: input.requiredBlob('CiphertextBlob', { min: 1, max: 6144 }),
    sourceContext: input.stringMap('SourceEncryptionContext', ENCRYPTION_CONTEXT_RULE),
    destinationContext: input.stringMap('DestinationEncryptionContext', ENCRYPTION_CONTEXT_RULE),
    sourceKeyVersionId: input.string('SourceKeyVersionId', { min: 1, max: 64 }),
  }),
  async run(ctx, req) {
    const key = await requireScope(ctx, req.scope);
    const source = await decryptInScope(ctx, key, req.blob, req.sourceContext, { value: req.sourceKeyVersionId, field: 'SourceKeyVersionId' });
    try {
      await authorizeKey(ctx, key, { action: 'ReEncryptTo', context: req.destinationContext });
      const blob = await encryptUnder(ctx, key, source.plaintext, req.destinationContext);
      return {
        CiphertextBlob: blob, KeyId: keyArnOf(ctx, key), KeyVersionId: keyVersionId(key, versionOf(blob)),
        SourceKeyVersionId: keyVersionId(key, source.version), ScopeId: req.scope.scopeId,
      };
    } finally {
      source.plaintext.fill(0);
    }
  },
});
