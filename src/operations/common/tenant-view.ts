import { tenantState, type Tenant } from '../../keyring/index.js';
import type { OperationContext } from '../context.js';
import { epochSeconds } from './key-metadata.js';
import type { Input } from './input.js';

const TENANT_ID = { min: 1, max: 63, pattern: /^[a-z0-9][a-z0-9-]{0,62}$/, patternText: '^[a-z0-9][a-z0-9-]{0,62}$' } as const;
/** A free-text reason shown to the tenant's callers and recorded (digested) in the audit log. */
const REASON = { min: 1, max: 256, pattern: /^[^\p{Cc}]+$/u, patternText: 'printable characters, no control characters' } as const;

export function readTenantId(input: Input, field = 'TenantId'): string {
  return input.requiredString(field, TENANT_ID);
}

export function readReason(input: Input): string | undefined {
  return input.string('Reason', REASON);
}

export function requiredReason(input: Input): string {
  return input.requiredString('Reason', REASON);
}

/** A tenant as DescribeTenant and ListTenants show it: state, deletion date, quotas in force and usage. */
export async function tenantView(ctx: OperationContext, tenant: Tenant): Promise<Record<string, unknown>> {
  const { tenants } = ctx.services.keyring;
  const quotas = tenants.quotas(tenant);
  const usage = await tenants.usage(tenant);
  return {
    TenantId: tenant.id,
    AccountId: tenant.accountId,
    CreationDate: epochSeconds(tenant.createdAt),
    TenantState: tenantState(tenant),
    ...(tenant.deletion !== undefined ? { DeletionDate: epochSeconds(tenant.deletion.date), PendingWindowInDays: tenant.deletion.windowDays } : {}),
    ...(tenant.suspension !== undefined ? { SuspensionReason: tenant.suspension.reason, SuspensionDate: epochSeconds(tenant.suspension.at) } : {}),
    ...(tenant.resumeReason !== undefined ? { ResumeReason: tenant.resumeReason } : {}),
    Quotas: { MaxKeys: quotas.maxKeys, MaxPrincipals: quotas.maxPrincipals, RequestsPerSecond: quotas.requestsPerSecond, Burst: quotas.burst },
    Usage: { Keys: usage.keys, Principals: usage.principals },
  };
}
