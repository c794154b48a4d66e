import { ENCRYPTION_CONTEXT_RULE, ALGORITHMS, checkEncryption, encryptWith } from './common/ciphertext.js';
import { dryRun } from './common/dry-run.js';
import { keyArnOf, readKeyId, resolveKey } from './common/resolve-key.js';
import { defineOperation } from './context.js';

/** AWS KMS limit on what Encrypt takes directly; larger data belongs under a data key. */
export const MAX_PLAINTEXT_BYTES = 4096;

export const encrypt = defineOperation({
  name: 'Encrypt',
  namespace: 'TrentService',
  plane: 'data',
  parse: (input) => ({
    keyId: readKeyId(input),
    plaintext: input.requiredBlob('Plaintext', { min: 1, max: MAX_PLAINTEXT_BYTES }),
    context: input.stringMap('EncryptionContext', ENCRYPTION_CONTEXT_RULE),
    grantTokens: input.stringList('GrantTokens', { max: 10, itemMax: 8192 }),
    algorithm: input.oneOf('EncryptionAlgorithm', ALGORITHMS),
    dryRun: input.boolean('DryRun'),
  }),
  async run(ctx, req) {
    try {
      const key = await resolveKey(ctx, req.keyId, { context: req.context });
      const arn = keyArnOf(ctx, key);
      const algorithm = checkEncryption(arn, key, req.algorithm, req.context, 'Encrypt');
      dryRun(req.dryRun);
      const blob = await encryptWith(ctx, key, algorithm, req.plaintext, req.context);
      return { CiphertextBlob: blob, KeyId: arn, EncryptionAlgorithm: algorithm };
    } finally {
      req.plaintext.fill(0);
    }
  },
});
