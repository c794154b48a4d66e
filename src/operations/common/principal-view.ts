import type { PrincipalRecord } from '../../keyring/index.js';
import { epochSeconds } from './key-metadata.js';

/** A principal as the API shows it: never its secret or token hash. */
export function principalView(p: PrincipalRecord): Record<string, unknown> {
  return { Name: p.name, Tenant: p.tenantId, Role: p.role, AccessKeyId: p.accessKeyId, CreationDate: epochSeconds(p.createdAt) };
}
