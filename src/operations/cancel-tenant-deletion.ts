import { tenantState } from '../keyring/index.js';
import { readTenantId } from './common/tenant-view.js';
import { defineOperation } from './context.js';

/** Cancels a pending tenant deletion: the tenant is exactly as before (Active, or Suspended with its reason). */
export const cancelTenantDeletion = defineOperation({
  name: 'CancelTenantDeletion',
  namespace: 'Keyward',
  plane: 'system',
  parse: (input) => ({ tenantId: readTenantId(input) }),
  async run(ctx, req) {
    const t = await ctx.services.keyring.tenants.cancelDeletion(req.tenantId);
    return { TenantId: t.id, TenantState: tenantState(t) };
  },
});
