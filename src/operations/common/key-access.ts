import { evaluatePolicy, grantAllows, mayUse, parsePolicy, principalArn, type Caller, type KeyPolicy, type Plane } from '../../authz/index.js';
import { KeywardError } from '../../errors/index.js';
import { readGrantToken, type GrantRecord, type KeyRecord } from '../../keyring/index.js';
import type { CallerContext } from '../context.js';

/** What a key operation asks of the key's policy and grants. */
export interface KeyAccess {
  /** The policy action; default: the operation's name (ReEncrypt asks ReEncryptFrom and ReEncryptTo). */
  readonly action?: string;
  /** The request's encryption context (conditions, grant constraints). */
  readonly context?: Readonly<Record<string, string>> | undefined;
}

/** Parsed policies by document text: a key record is immutable, so its text parses once. */
const parsed = new Map<string, KeyPolicy>();
const MAX_PARSED = 1000;

function policyOf(text: string | undefined): KeyPolicy | undefined {
  if (text === undefined) return undefined;
  let p = parsed.get(text);
  if (p === undefined) {
    p = parsePolicy(text);
    if (parsed.size >= MAX_PARSED) parsed.delete(parsed.keys().next().value as string);
    parsed.set(text, p);
  }
  return p;
}

/** Grant management a user's role does not imply (the policy or a grant must name the user). */
const DELEGATION = new Set(['CreateGrant', 'RetireGrant']);

/** The caller's role as an IAM policy: admins may do everything, users the data plane but not manage grants. */
export function roleAllows(caller: Caller, plane: Plane, action: string): boolean {
  if (!mayUse(caller, plane)) return false;
  return caller.principal.role === 'admin' || !DELEGATION.has(action);
}

/**
 * The key policy's answer for this caller and action: the stored policy, or the default (the
 * account, that is every principal of the tenant as its role allows).
 */
export function policyDecision(caller: Caller, policyText: string | undefined, plane: Plane, action: string, context: KeyAccess['context']): 'allow' | 'deny' | 'none' {
  const request = {
    action,
    principalArn: principalArn(caller),
    accountId: caller.tenant.accountId,
    roleAllows: roleAllows(caller, plane, action),
    ...(context !== undefined ? { encryptionContext: context } : {}),
  };
  const policy = policyOf(policyText);
  if (policy === undefined) return request.roleAllows ? 'allow' : 'none';
  return evaluatePolicy(policy, request);
}

/**
 * Authorises a key operation against the key's policy and grants (after the role check invoke
 * made): an explicit Deny wins, then an Allow of the policy, then a grant of the caller (from the
 * key's grants, or named by a grant token of the request). Otherwise AccessDeniedException in
 * AWS's words. Keys of other tenants never get here: keys are looked up in the caller's tenant.
 */
export async function authorizeKey(ctx: CallerContext, key: KeyRecord, access: KeyAccess = {}): Promise<{ grant?: GrantRecord }> {
  const action = access.action ?? ctx.operation.name;
  const decision = policyDecision(ctx.caller, key.policy, ctx.operation.plane, action, access.context);
  if (decision === 'allow') return {};
  if (decision === 'none') {
    const grant = await findGrant(ctx, key, action, access.context);
    if (grant !== undefined) return { grant };
  }
  const arn = ctx.services.keyring.keys.arn(ctx.caller.tenant, key.keyId);
  const why = decision === 'deny' ? ' with an explicit deny in a resource-based policy' : ' because no resource-based policy allows the action';
  throw new KeywardError('AccessDeniedException', `User: ${principalArn(ctx.caller)} is not authorized to perform: kms:${action} on resource: ${arn}${why}`);
}

/**
 * A policy for PutKeyPolicy or CreateKey: checked against the supported subset, and (unless the
 * caller bypasses it) the lockout safety check: the caller must still be allowed PutKeyPolicy.
 */
export function checkNewPolicy(caller: Caller, text: string, bypassLockoutCheck: boolean): void {
  parsePolicy(text);
  if (bypassLockoutCheck) return;
  if (policyDecision(caller, text, 'control', 'PutKeyPolicy', undefined) !== 'allow') {
    throw new KeywardError('MalformedPolicyDocumentException', 'The new key policy will not allow you to update the key policy in the future.');
  }
}

async function findGrant(ctx: CallerContext, key: KeyRecord, action: string, context: KeyAccess['context']): Promise<GrantRecord | undefined> {
  const { grants } = ctx.services.keyring;
  const arn = principalArn(ctx.caller);
  const found = (await grants.forKey(ctx.caller.tenant, key.keyId)).find((g) => grantAllows(g, arn, action, context));
  if (found !== undefined) return found;
  // A grant token makes a grant usable before this node's cache has heard of it.
  for (const token of ctx.grantTokens ?? []) {
    const named = readGrantToken(token);
    if (named.keyId !== key.keyId) continue;
    const grant = await grants.find(ctx.caller.tenant, key.keyId, named.grantId);
    if (grant !== undefined && grantAllows(grant, arn, action, context)) return grant;
  }
  return undefined;
}
