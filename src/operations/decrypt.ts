import { ALGORITHMS, ENCRYPTION_CONTEXT_RULE, decryptAny } from './common/ciphertext.js';
import { dryRun } from './common/dry-run.js';
import { KEY_ID_RULE, keyArnOf } from './common/resolve-key.js';
import { defineOperation } from './context.js';

export const decrypt = defineOperation({
  name: 'Decrypt',
  namespace: 'TrentService',
  plane: 'data',
  parse: (input) => ({
    blob: input.requiredBlob('CiphertextBlob', { min: 1, max: 6144 }),
    context: input.stringMap('EncryptionContext', ENCRYPTION_CONTEXT_RULE),
    keyId: input.string('KeyId', KEY_ID_RULE),
    grantTokens: input.stringList('GrantTokens', { max: 10, itemMax: 8192 }),
    algorithm: input.oneOf('EncryptionAlgorithm', ALGORITHMS),
    dryRun: input.boolean('DryRun'),
  }),
  async run(ctx, req) {
    const { key, plaintext, algorithm } = await decryptAny(ctx, req.blob, req.context, req.keyId, req.algorithm);
    if (req.dryRun === true) plaintext.fill(0);
    dryRun(req.dryRun);
    return { KeyId: keyArnOf(ctx, key), Plaintext: plaintext, EncryptionAlgorithm: algorithm };
  },
});
