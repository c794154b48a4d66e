export * from './types.js';
export * from './keyring.js';
export * from './clock.js';
export { Keys, type NewKey } from './keys.js';
export { Tenants, DEFAULT_TENANT, checkTenantId } from './tenants.js';
export { Aliases, checkAliasName } from './aliases.js';
export { Principals, checkPrincipalName, type IssuedCredentials } from './principals.js';
export { Scheduler, type SchedulerReport } from './scheduler.js';
export { parseKeyRef, keyArn, aliasArn, isKeyId, type KeyRef } from './key-ref.js';
export { requireEnabled, requireNotPendingDeletion, isExpired } from './key-state.js';
export type { CacheLimits } from './cache.js';
export { paths, pkiTenantPrefixes, classifyPath } from './paths.js';
/** What other record-keeping layers (pki) build on: records through the barrier, caches, CAS retries, wrapping. */
export { BoundedCache } from './cache.js';
export { encodeRecord, decodeRecord } from './records.js';
export { withCasRetry } from './retry.js';
export { wrapMaterial, unwrapMaterial, type MaterialRef } from './material.js';
export { StoreConflictError, type BarrierWriter, type BarrierEntry, type StoreChange } from '../barrier/index.js';
