import { tenantView } from './common/tenant-view.js';
import { defineOperation } from './context.js';

export const createTenant = defineOperation({
  name: 'CreateTenant',
  namespace: 'Keyward',
  plane: 'system',
  parse: (input) => ({ tenantId: input.requiredString('TenantId', { min: 1, max: 63 }) }),
  async run(ctx, req) {
    const t = await ctx.services.keyring.tenants.create(req.tenantId);
    return { Tenant: await tenantView(ctx, t) };
  },
});
