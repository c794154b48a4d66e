export * from './context.js';
export { invoke, auditRejected, auditServed } from './invoke.js';
export { authenticate, credentialsFromAuthorization, type Credentials } from './authenticate.js';
export { operationForTarget, targetsOf, sys, pkiPublic, isUnsupportedAwsTarget, UNSUPPORTED_AWS_OPERATIONS } from './registry.js';
export { MAX_PLAINTEXT_BYTES } from './encrypt.js';
export { INITIAL_ADMIN } from './init.js';
export { Input } from './common/input.js';
export { wipeResult } from './common/wipe.js';
export { RateLimits, type RateLimitOptions, type BucketSpec } from './common/rate-limits.js';
