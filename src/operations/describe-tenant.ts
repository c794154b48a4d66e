import { readTenantId, tenantView } from './common/tenant-view.js';
import { defineOperation } from './context.js';

export const describeTenant = defineOperation({
  name: 'DescribeTenant',
  namespace: 'Keyward',
  plane: 'system',
  parse: (input) => ({ tenantId: readTenantId(input) }),
  async run(ctx, req) {
    return { Tenant: await tenantView(ctx, await ctx.services.keyring.tenants.require(req.tenantId)) };
  },
});
