import { ENCRYPTION_CONTEXT_RULE, encryptUnder } from './common/ciphertext.js';
import { dataKeyTarget, newDataKey, readDataKeyLength } from './common/data-key.js';
import { dryRun } from './common/dry-run.js';
import { readKeyId } from './common/resolve-key.js';
import { defineOperation } from './context.js';

export const generateDataKey = defineOperation({
  name: 'GenerateDataKey',
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
    const { key, arn } = await dataKeyTarget(ctx, req.keyId, 'GenerateDataKey', req.context);
    dryRun(req.dryRun);
    const dataKey = newDataKey(req.length);
    const blob = await encryptUnder(ctx, key, dataKey, req.context);
    return { CiphertextBlob: blob, Plaintext: dataKey, KeyId: arn };
  },
});
