import { itemResult, readItems } from './common/batch.js';
import { defineOperation } from './context.js';
import { scopeDecrypt } from './scope-decrypt.js';

/** Keyward extension (miniKMS's BatchDecrypt): up to 1,000 ScopeDecrypts, each answered and audited on its own. */
export const batchScopeDecrypt = defineOperation({
  name: 'BatchScopeDecrypt',
  namespace: 'Keyward',
  plane: 'data',
  parse: (input) => ({ items: readItems(input, ['TenantId', 'ScopeId']) }),
  async run(ctx, req) {
    const outcomes = await Promise.all(req.items.map((item, i) => ctx.subrequest(scopeDecrypt, item, i)));
    return { Results: outcomes.map(itemResult) };
  },
});
