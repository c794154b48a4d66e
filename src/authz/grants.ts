import type { GrantConstraints, GrantRecord } from '../keyring/index.js';

const UNCONSTRAINED = new Set(['DescribeKey', 'RetireGrant', 'CreateGrant']);

/** Whether a grant lets `principalArn` perform `action` with this encryption context (pure). */
export function grantAllows(grant: GrantRecord, principalArn: string, action: string, context: Readonly<Record<string, string>> | undefined): boolean {
  if (grant.granteePrincipal !== principalArn) return false;
  if (!(grant.operations as readonly string[]).includes(action)) return false;
  // AWS: constraints do not apply to DescribeKey and RetireGrant; CreateGrant checks its own (constraintsWithin).
  if (UNCONSTRAINED.has(action)) return true;
  return constraintsHold(grant.constraints, context ?? {});
}

/**
 * EncryptionContextEquals: the request's context is exactly this one; EncryptionContextSubset:
 * it contains these pairs (and may have more). Operations without a context see an empty one.
 */
export function constraintsHold(constraints: GrantConstraints | undefined, context: Readonly<Record<string, string>>): boolean {
  if (constraints === undefined) return true;
  const pairs = Object.entries(context);
  const equals = constraints.encryptionContextEquals;
  if (equals !== undefined) {
    const wanted = Object.entries(equals);
    if (wanted.length !== pairs.length || wanted.some(([k, v]) => context[k] !== v || !Object.hasOwn(context, k))) return false;
  }
  const subset = constraints.encryptionContextSubset;
  if (subset !== undefined && Object.entries(subset).some(([k, v]) => !Object.hasOwn(context, k) || context[k] !== v)) return false;
  return true;
}

/** Whether `inner` is at least as strict as `outer` (a grant made under a grant may not widen it). */
export function constraintsWithin(inner: GrantConstraints | undefined, outer: GrantConstraints | undefined): boolean {
  if (outer === undefined) return true;
  if (inner === undefined) return false;
  if (outer.encryptionContextEquals !== undefined) {
    return inner.encryptionContextEquals !== undefined && constraintsHold({ encryptionContextEquals: outer.encryptionContextEquals }, inner.encryptionContextEquals);
  }
  const subset = outer.encryptionContextSubset ?? {};
  const innerPairs = inner.encryptionContextEquals ?? inner.encryptionContextSubset ?? {};
  return constraintsHold({ encryptionContextSubset: subset }, innerPairs);
}
