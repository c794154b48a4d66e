import { KeywardError } from '../../errors/index.js';
import { aliasArn, parseKeyRef, type KeyRecord } from '../../keyring/index.js';
import type { CallerContext } from '../context.js';
import type { Input } from './input.js';

export const KEY_ID_RULE = { min: 1, max: 2048 } as const;

/** The key a KeyId parameter names (id, key ARN, alias name or alias ARN), in the caller's tenant. */
export async function resolveKey(ctx: CallerContext, keyIdParam: string): Promise<KeyRecord> {
  const { keyring } = ctx.services;
  const tenant = ctx.caller.tenant;
  const ref = parseKeyRef(keyIdParam, keyring.region, tenant);
  if (ref.kind === 'key') {
    ctx.audit.keyId = ref.keyId;
    return keyring.keys.require(tenant, ref.keyId);
  }
  const alias = await keyring.aliases.find(tenant, ref.aliasName);
  if (alias === undefined) {
    throw new KeywardError('NotFoundException', `Alias ${aliasArn(keyring.region, tenant, ref.aliasName)} is not found.`);
  }
  ctx.audit.keyId = alias.targetKeyId;
  return keyring.keys.require(tenant, alias.targetKeyId);
}

/** A key named by id or key ARN only (TargetKeyId, ListAliases' KeyId): aliases are refused. */
export async function resolveKeyNoAlias(ctx: CallerContext, field: string, keyIdParam: string): Promise<KeyRecord> {
  const ref = parseKeyRef(keyIdParam, ctx.services.keyring.region, ctx.caller.tenant);
  if (ref.kind !== 'key') throw new KeywardError('ValidationException', `${field} must be a key ID or key ARN, not an alias.`);
  ctx.audit.keyId = ref.keyId;
  return ctx.services.keyring.keys.require(ctx.caller.tenant, ref.keyId);
}

export function readKeyId(input: Input, field = 'KeyId'): string {
  return input.requiredString(field, KEY_ID_RULE);
}

export function keyArnOf(ctx: CallerContext, key: KeyRecord): string {
  return ctx.services.keyring.keys.arn(ctx.caller.tenant, key.keyId);
}
