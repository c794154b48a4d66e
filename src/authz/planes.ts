import { KeywardError } from '../errors/index.js';
import { DEFAULT_TENANT, type PrincipalRecord, type Tenant } from '../keyring/index.js';

/**
 * Which permission an operation needs:
 *  - public:  no credentials (health, seal status, init, unseal: the passphrase is the credential)
 *  - data:    cryptography with keys and reading key metadata (roles user and admin)
 *  - control: managing keys, aliases and principals of one's own tenant (role admin)
 *  - system:  tenants, sealing, other tenants' principals (role admin of the system tenant)
 */
export type Plane = 'public' | 'data' | 'control' | 'system';

export const SYSTEM_TENANT = DEFAULT_TENANT;

export interface Caller {
  readonly principal: PrincipalRecord;
  readonly tenant: Tenant;
  /** Serial number of the member certificate the caller authenticated with (mTLS), if any. */
  readonly certificateSerial?: string;
}

export function principalArn(caller: Caller): string {
  return `arn:aws:iam::${caller.tenant.accountId}:user/${caller.principal.name}`;
}

export function isSystemAdmin(caller: Caller): boolean {
  return caller.principal.role === 'admin' && caller.principal.tenantId === SYSTEM_TENANT;
}

export function mayUse(caller: Caller, plane: Plane): boolean {
  switch (plane) {
    case 'public': return true;
    case 'data': return caller.principal.role === 'admin' || caller.principal.role === 'user';
    case 'control': return caller.principal.role === 'admin';
    case 'system': return isSystemAdmin(caller);
  }
}

/** Throws AccessDeniedException in AWS's words unless the caller's role covers the plane. */
export function authorize(caller: Caller, plane: Plane, operation: string, resource = '*'): void {
  if (!mayUse(caller, plane)) {
    throw new KeywardError('AccessDeniedException', `User: ${principalArn(caller)} is not authorized to perform: kms:${operation} on resource: ${resource}`);
  }
}

/** Managing principals of another tenant is a system-plane action. */
export function authorizeTenant(caller: Caller, tenantId: string, operation: string): void {
  if (tenantId !== caller.tenant.id) authorize(caller, 'system', operation, `tenant/${tenantId}`);
}
