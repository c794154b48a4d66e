import { epochSeconds } from './common/key-metadata.js';
import { readTenantId } from './common/tenant-view.js';
import { defineOperation } from './context.js';

/**
 * Schedules a tenant's deletion after a 7-30 day window (default 30), as ScheduleKeyDeletion does
 * for a key. Meanwhile every request of its principals is refused; at the end the scheduler
 * deletes its salt and every record of it (crypto-shredding: its ciphertexts never decrypt again).
 */
export const deleteTenant = defineOperation({
  name: 'DeleteTenant',
  namespace: 'Keyward',
  plane: 'system',
  parse: (input) => ({ tenantId: readTenantId(input), days: input.integer('PendingWindowInDays', { min: 7, max: 30 }) ?? 30 }),
  async run(ctx, req) {
    const t = await ctx.services.keyring.tenants.scheduleDeletion(req.tenantId, req.days);
    return {
      TenantId: t.id,
      TenantState: 'PendingDeletion',
      DeletionDate: epochSeconds(t.deletion?.date ?? ''),
      PendingWindowInDays: req.days,
    };
  },
});
