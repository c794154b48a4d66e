import { authorizeTenant } from '../authz/index.js';
import { decodeMarker, pageResult, readPage } from './common/pagination.js';
import { principalView } from './common/principal-view.js';
import { defineOperation } from './context.js';

export const listPrincipals = defineOperation({
  name: 'ListPrincipals',
  namespace: 'Keyward',
  plane: 'control',
  parse: (input) => ({ tenant: input.string('Tenant', { min: 1, max: 63 }), ...readPage(input) }),
  async run(ctx, req) {
    const tenantId = req.tenant ?? ctx.caller.tenant.id;
    authorizeTenant(ctx.caller, tenantId, 'ListPrincipals');
    const scope = `ListPrincipals/${tenantId}`;
    const page = await ctx.services.keyring.principals.list(tenantId, decodeMarker(scope, req.marker), req.limit);
    return pageResult('Principals', page.principals.map(principalView), scope, page.next);
  },
});
