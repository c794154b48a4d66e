import { epochSeconds } from './common/key-metadata.js';
import { decodeMarker, pageResult, readPage } from './common/pagination.js';
import { defineOperation } from './context.js';

export const listTenants = defineOperation({
  name: 'ListTenants',
  namespace: 'Keyward',
  plane: 'system',
  parse: (input) => readPage(input),
  async run(ctx, req) {
    const page = await ctx.services.keyring.tenants.list(decodeMarker('ListTenants', req.marker), req.limit);
    const items = page.tenants.map((t) => ({ TenantId: t.id, AccountId: t.accountId, CreationDate: epochSeconds(t.createdAt) }));
    return pageResult('Tenants', items, 'ListTenants', page.next);
  },
});
