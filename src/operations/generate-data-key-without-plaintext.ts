import { ENCRYPTION_CONTEXT_RULE, encryptUnder } from './common/ciphertext.js';
import { dataKeyTarget, newDataKey, readDataKeyLength } from './common/data-key.js';
import { dryRun } from './common/dry-run.js';
import { readKeyId } from './common/resolve-key.js';
import { defineOperation } from './context.js';

export const generateDataKeyWithoutPlaintext = defineOperation({
  name: 'GenerateDataKeyWithoutPlaintext',
  namespace: 'TrentService',
  plane: 'data',
  parse: (input) => ({
    keyId: readKeyId(input),
    length: readDataKeyLength(input),
    context: input.stringMap('EncryptionContext', ENCRYPTION_CONTEXT_RULE),
    grantTokens: input.stringList('GrantTokens', { max: 10, itemMax: 8192 }),
    dryRun: input.boolean('DryRun'),
  }),
  async run(ctx, req) {
    const { key, arn } = await dataKeyTarget(ctx, req.keyId, 'GenerateDataKeyWithoutPlaintext', req.context);
    dryRun(req.dryRun);
    const dataKey = newDataKey(req.length);
    try {
      return { CiphertextBlob: await encryptUnder(ctx, key, dataKey, req.context), KeyId: arn };
    } finally {
      dataKey.fill(0);
    }
  },
});
