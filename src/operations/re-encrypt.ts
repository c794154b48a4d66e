import { ALGORITHMS, ENCRYPTION_CONTEXT_RULE, checkEncryption, decryptAny, encryptWith } from './common/ciphertext.js';
import { dryRun } from './common/dry-run.js';
import { KEY_ID_RULE, keyArnOf, readKeyId, resolveKey } from './common/resolve-key.js';
import { defineOperation } from './context.js';

/** Decrypts and re-encrypts inside Keyward: the plaintext never leaves the server. */
export const reEncrypt = defineOperation({
  name: 'ReEncrypt',
  namespace: 'TrentService',
  plane: 'data',
  parse: (input) => ({
    blob: input.requiredBlob('CiphertextBlob', { min: 1, max: 6144 }),
    sourceContext: input.stringMap('SourceEncryptionContext', ENCRYPTION_CONTEXT_RULE),
    sourceKeyId: input.string('SourceKeyId', KEY_ID_RULE),
    destinationKeyId: readKeyId(input, 'DestinationKeyId'),
    destinationContext: input.stringMap('DestinationEncryptionContext', ENCRYPTION_CONTEXT_RULE),
    sourceAlgorithm: input.oneOf('SourceEncryptionAlgorithm', ALGORITHMS),
    destinationAlgorithm: input.oneOf('DestinationEncryptionAlgorithm', ALGORITHMS),
    grantTokens: input.stringList('GrantTokens', { max: 10, itemMax: 8192 }),
    dryRun: input.boolean('DryRun'),
  }),
  async run(ctx, req) {
    const destination = await resolveKey(ctx, req.destinationKeyId, { action: 'ReEncryptTo', context: req.destinationContext });
    const destinationArn = keyArnOf(ctx, destination);
    const destinationAlgorithm = checkEncryption(destinationArn, destination, req.destinationAlgorithm, req.destinationContext, 'ReEncrypt');
    const { key: source, plaintext, algorithm: sourceAlgorithm } = await decryptAny(ctx, req.blob, req.sourceContext, req.sourceKeyId, req.sourceAlgorithm, 'ReEncryptFrom');
    try {
      dryRun(req.dryRun);
      const blob = await encryptWith(ctx, destination, destinationAlgorithm, plaintext, req.destinationContext);
      return {
        CiphertextBlob: blob,
        SourceKeyId: keyArnOf(ctx, source),
        KeyId: destinationArn,
        SourceEncryptionAlgorithm: sourceAlgorithm,
        DestinationEncryptionAlgorithm: destinationAlgorithm,
      };
    } finally {
      plaintext.fill(0);
    }
  },
});
