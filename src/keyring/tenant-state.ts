import { KeywardError } from '../errors/index.js';
import type { Tenant, TenantState } from './types.js';

export function tenantState(tenant: Tenant): TenantState {
  if (tenant.deletion !== undefined) return 'PendingDeletion';
  return tenant.suspension !== undefined ? 'Suspended' : 'Active';
}

/**
 * Refuses every request of a tenant that is not Active, with AWS's exceptions for the states:
 * KMSInvalidStateException naming the deletion date, DisabledException with the suspension reason.
 */
export function requireActiveTenant(tenant: Tenant): void {
  if (tenant.deletion !== undefined) {
    throw new KeywardError('KMSInvalidStateException', `Tenant ${tenant.id} is pending deletion (deletion date ${tenant.deletion.date}); its requests are refused unless a system administrator cancels the deletion.`);
  }
  if (tenant.suspension !== undefined) {
    throw new KeywardError('DisabledException', `Tenant ${tenant.id} is suspended: ${tenant.suspension.reason}`);
  }
}

/** Whether the tenant's deletion window has ended (the scheduler then deletes it). */
export function isTenantExpired(tenant: Tenant, now: Date): boolean {
  return tenant.deletion !== undefined && Date.parse(tenant.deletion.date) <= now.getTime();
}
