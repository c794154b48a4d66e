import { itemResult, readItems } from './common/batch.js';
import { defineOperation } from './context.js';
import { encrypt } from './encrypt.js';

/** Keyward extension: up to 1,000 Encrypts in one request, each answered and audited on its own. */
export const batchEncrypt = defineOperation({
  name: 'BatchEncrypt',
  namespace: 'Keyward',
  plane: 'data',
  parse: (input) => ({ items: readItems(input, ['KeyId']) }),
  async run(ctx, req) {
    const outcomes = await Promise.all(req.items.map((item, i) => ctx.subrequest(encrypt, item, i)));
    return { Results: outcomes.map(itemResult) };
  },
});
