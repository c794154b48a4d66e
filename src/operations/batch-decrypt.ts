import { itemResult, readItems } from './common/batch.js';
import { defineOperation } from './context.js';
import { decrypt } from './decrypt.js';

/**
 * Keyward extension: up to 1,000 Decrypts in one request, each answered and audited on its own;
 * a failed item is the same error (InvalidCiphertextException for every cryptographic failure)
 * it would be alone.
 */
export const batchDecrypt = defineOperation({
  name: 'BatchDecrypt',
  namespace: 'Keyward',
  plane: 'data',
  parse: (input) => ({ items: readItems(input, ['KeyId']) }),
  async run(ctx, req) {
    const outcomes = await Promise.all(req.items.map((item, i) => ctx.subrequest(decrypt, item, i)));
    return { Results: outcomes.map(itemResult) };
  },
});
