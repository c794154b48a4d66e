import { KeywardError } from '../../errors/index.js';
import { isGrantId, type GrantConstraints, type GrantRecord, type Tenant } from '../../keyring/index.js';
import type { CallerContext } from '../context.js';
import type { Input } from './input.js';
import { epochSeconds } from './key-metadata.js';

/** AWS's PrincipalIdType: 1-256 characters of [\w+=,.@:/-]. Keyward principals are IAM user ARNs (or an account root). */
const PRINCIPAL = /^[\w+=,.@:/-]+$/;
const PRINCIPAL_ARN = /^arn:aws:iam::\d{12}:(root|user\/[\w+=,.@-]{1,64})$/;
/** AWS's GrantNameType. */
const GRANT_NAME = /^[a-zA-Z0-9:/_-]+$/;
export const GRANT_TOKENS_RULE = { max: 10, itemMax: 8192 } as const;
/** AWS: a constraint holds up to 8 encryption context pairs, values up to 384 characters. */
const CONSTRAINT_RULE = { maxEntries: 8, maxKey: 384, maxValue: 384 } as const;

export function readPrincipal(input: Input, field: string, required: true): string;
export function readPrincipal(input: Input, field: string, required: false): string | undefined;
export function readPrincipal(input: Input, field: string, required: boolean): string | undefined {
  const rule = { min: 1, max: 256, pattern: PRINCIPAL, patternText: '^[\\w+=,.@:/-]+$' } as const;
  const v = required ? input.requiredString(field, rule) : input.string(field, rule);
  if (v !== undefined && !PRINCIPAL_ARN.test(v)) {
    throw new KeywardError('ValidationException', `${field} ${v} is not a principal Keyward knows how to name: use arn:aws:iam::<account>:user/<name> or arn:aws:iam::<account>:root.`);
  }
  return v;
}

export function readGrantName(input: Input): string | undefined {
  return input.string('Name', { min: 1, max: 256, pattern: GRANT_NAME, patternText: '^[a-zA-Z0-9:/_-]+$' });
}

export function readConstraints(input: Input): GrantConstraints | undefined {
  const c = input.object('Constraints');
  if (c === undefined) return undefined;
  const equals = c.stringMap('EncryptionContextEquals', CONSTRAINT_RULE);
  const subset = c.stringMap('EncryptionContextSubset', CONSTRAINT_RULE);
  if (equals === undefined && subset === undefined) return undefined;
  return { ...(equals !== undefined ? { encryptionContextEquals: equals } : {}), ...(subset !== undefined ? { encryptionContextSubset: subset } : {}) };
}

export function readGrantId(input: Input, required: true): string;
export function readGrantId(input: Input, required: false): string | undefined;
export function readGrantId(input: Input, required: boolean): string | undefined {
  const v = required ? input.requiredString('GrantId', { min: 1, max: 128 }) : input.string('GrantId', { min: 1, max: 128 });
  if (v !== undefined && !isGrantId(v)) throw new KeywardError('InvalidGrantIdException', 'The GrantId is not valid.');
  return v;
}

export function accountRoot(accountId: string): string {
  return `arn:aws:iam::${accountId}:root`;
}

/** A grant as ListGrants and ListRetirableGrants answer it (AWS's GrantListEntry). */
export function grantEntry(ctx: CallerContext, tenant: Tenant, g: GrantRecord): Record<string, unknown> {
  const constraints = g.constraints === undefined ? undefined : {
    ...(g.constraints.encryptionContextEquals !== undefined ? { EncryptionContextEquals: g.constraints.encryptionContextEquals } : {}),
    ...(g.constraints.encryptionContextSubset !== undefined ? { EncryptionContextSubset: g.constraints.encryptionContextSubset } : {}),
  };
  return {
    KeyId: ctx.services.keyring.keys.arn(tenant, g.keyId),
    GrantId: g.grantId,
    ...(g.name !== undefined ? { Name: g.name } : {}),
    CreationDate: epochSeconds(g.createdAt),
    GranteePrincipal: g.granteePrincipal,
    ...(g.retiringPrincipal !== undefined ? { RetiringPrincipal: g.retiringPrincipal } : {}),
    IssuingAccount: accountRoot(tenant.accountId),
    Operations: g.operations,
    ...(constraints !== undefined ? { Constraints: constraints } : {}),
  };
}

export function grantNotFound(grantId: string): KeywardError {
  return new KeywardError('NotFoundException', `Grant ID ${grantId} not found`);
}
