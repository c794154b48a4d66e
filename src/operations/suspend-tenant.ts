import { readTenantId, requiredReason } from './common/tenant-view.js';
import { defineOperation } from './context.js';

/** Suspends a tenant: its principals' requests answer DisabledException with the reason; nothing is deleted. */
export const suspendTenant = defineOperation({
  name: 'SuspendTenant',
  namespace: 'Keyward',
  plane: 'system',
  parse: (input) => ({ tenantId: readTenantId(input), reason: requiredReason(input) }),
  async run(ctx, req) {
    const t = await ctx.services.keyring.tenants.suspend(req.tenantId, req.reason);
    return { TenantId: t.id, TenantState: 'Suspended' };
  },
});
