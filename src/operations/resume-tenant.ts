import { readReason, readTenantId } from './common/tenant-view.js';
import { defineOperation } from './context.js';

export const resumeTenant = defineOperation({
  name: 'ResumeTenant',
  namespace: 'Keyward',
  plane: 'system',
  parse: (input) => ({ tenantId: readTenantId(input), reason: readReason(input) }),
  async run(ctx, req) {
    const t = await ctx.services.keyring.tenants.resume(req.tenantId, req.reason);
    return { TenantId: t.id, TenantState: 'Active' };
  },
});
