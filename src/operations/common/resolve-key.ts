import { KeywardError } from '../../errors/index.js';
import { aliasArn, parseKeyRef, type KeyRecord } from '../../keyring/index.js';
import type { CallerContext } from '../context.js';
import type { Input } from './input.js';
import { authorizeKey, type KeyAccess } from './key-access.js';

export const KEY_ID_RULE = { min: 1, max: 2048 } as const;

/**
 * The key a KeyId parameter names (id, key ARN, alias name or alias ARN), in the caller's tenant,
 * once its key policy or a grant lets the caller perform the operation (`access`; `false` for
 * operations AWS authorises by IAM only).
 */
export async function resolveKey(ctx: CallerContext, keyIdParam: string, access: KeyAccess | false = {}): Promise<KeyRecord> {
  const { keyring } = ctx.services;
  const tenant = ctx.caller.tenant;
  const ref = parseKeyRef(keyIdParam, keyring.region, tenant);
  let keyId: string;
  if (ref.kind === 'key') {
    keyId = ref.keyId;
  } else {
    const alias = await keyring.aliases.find(tenant, ref.aliasName);
    if (alias === undefined) {
      throw new KeywardError('NotFoundException', `Alias ${aliasArn(keyring.region, tenant, ref.aliasName)} is not found.`);
    }
    keyId = alias.targetKeyId;
  }
  ctx.audit.keyId = keyId;
  const key = await keyring.keys.require(tenant, keyId);
  if (access !== false) await authorizeKey(ctx, key, access);
  return key;
}

/** A key named by id or key ARN only (TargetKeyId, ListAliases' KeyId): aliases are refused. */
export async function resolveKeyNoAlias(ctx: CallerContext, field: string, keyIdParam: string, access: KeyAccess | false = {}): Promise<KeyRecord> {
  const ref = parseKeyRef(keyIdParam, ctx.services.keyring.region, ctx.caller.tenant);
  if (ref.kind !== 'key') throw new KeywardError('ValidationException', `${field} must be a key ID or key ARN, not an alias.`);
  ctx.audit.keyId = ref.keyId;
  const key = await ctx.services.keyring.keys.require(ctx.caller.tenant, ref.keyId);
  if (access !== false) await authorizeKey(ctx, key, access);
  return key;
}

/**
 * The key of an operation whose AWS reference takes only a key id or key ARN (EnableKey,
 * ScheduleKeyDeletion, rotation, tags, policies, grants...): an alias is NotFoundException
 * "Invalid keyId", as AWS answers.
 */
export async function resolveKeyIdOnly(ctx: CallerContext, keyIdParam: string, access: KeyAccess | false = {}): Promise<KeyRecord> {
  const ref = parseKeyRef(keyIdParam, ctx.services.keyring.region, ctx.caller.tenant);
  if (ref.kind !== 'key') throw new KeywardError('NotFoundException', `Invalid keyId ${keyIdParam.length > 256 ? `${keyIdParam.slice(0, 256)}...` : keyIdParam}`);
  ctx.audit.keyId = ref.keyId;
  const key = await ctx.services.keyring.keys.require(ctx.caller.tenant, ref.keyId);
  if (access !== false) await authorizeKey(ctx, key, access);
  return key;
}

export function readKeyId(input: Input, field = 'KeyId'): string {
  return input.requiredString(field, KEY_ID_RULE);
}

export function keyArnOf(ctx: CallerContext, key: KeyRecord): string {
  return ctx.services.keyring.keys.arn(ctx.caller.tenant, key.keyId);
}
