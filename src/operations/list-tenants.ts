import { decodeMarker, pageResult, readPage } from './common/pagination.js';
import { tenantView } from './common/tenant-view.js';
import { defineOperation } from './context.js';

export const listTenants = defineOperation({
  name: 'ListTenants',
  namespace: 'Keyward',
  plane: 'system',
  parse: (input) => readPage(input),
  async run(ctx, req) {
    const page = await ctx.services.keyring.tenants.list(decodeMarker('ListTenants', req.marker), req.limit);
    const items = await Promise.all(page.tenants.map((t) => tenantView(ctx, t)));
    return pageResult('Tenants', items, 'ListTenants', page.next);
  },
});
