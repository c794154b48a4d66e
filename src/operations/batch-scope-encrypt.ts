import { itemResult, readItems } from './common/batch.js';
import { defineOperation } from './context.js';
import { scopeEncrypt } from './scope-encrypt.js';

/** Keyward extension (miniKMS's BatchEncrypt): up to 1,000 ScopeEncrypts, each answered and audited on its own. */
export const batchScopeEncrypt = defineOperation({
  name: 'BatchScopeEncrypt',
  namespace: 'Keyward',
  plane: 'data',
  parse: (input) => ({ items: readItems(input, ['TenantId', 'ScopeId']) }),
  async run(ctx, req) {
    const outcomes = await Promise.all(req.items.map((item, i) => ctx.subrequest(scopeEncrypt, item, i)));
    return { Results: outcomes.map(itemResult) };
  },
});
