import { KeywardError } from '../../errors/index.js';
import type { KeyRecord } from '../../keyring/index.js';
import type { CallerContext } from '../context.js';
import type { Input } from './input.js';
import { versionsView } from './key-metadata.js';

/**
 * Key groups (mini-kms's model): a named key of the caller's tenant, reached through the alias
 * `alias/<group>`. Underneath it is an ordinary symmetric key (ListKeys, DescribeKey, the AWS
 * protocol all see it); its versions are the group's versions.
 */
export const KEY_GROUP_PREFIX = 'alias/';
/** The group data requests use when they name none; created on first use. */
export const DEFAULT_KEY_GROUP = 'default';
/** One alias segment: no '/', so a group is never a scope (alias/scope/...) or an AWS alias. */
const GROUP = /^[A-Za-z0-9_-]{1,250}$/;

export function readKeyGroup(input: Input, field = 'KeyGroup'): string {
  return input.requiredString(field, { min: 1, max: 250, pattern: GROUP, patternText: "1-250 characters of A-Z, a-z, 0-9, '_' and '-'" });
}

export function isKeyGroupAlias(aliasName: string): boolean {
  return aliasName.startsWith(KEY_GROUP_PREFIX) && GROUP.test(aliasName.slice(KEY_GROUP_PREFIX.length));
}

/** A group's key and versions as the key-group operations answer them. */
export function keyGroupView(ctx: CallerContext, group: string, key: KeyRecord): Record<string, unknown> {
  return {
    KeyGroup: group,
    KeyId: ctx.services.keyring.keys.arn(ctx.caller.tenant, key.keyId),
    KeyState: key.keyState,
    PrimaryVersion: key.primaryVersion,
    Versions: versionsView(key),
  };
}

/** Creates the group's key and alias in one transaction (of two creators, one wins; the other gets AlreadyExistsException). */
export async function createKeyGroup(ctx: CallerContext, group: string): Promise<KeyRecord> {
  const { keyring } = ctx.services;
  const tenant = ctx.caller.tenant;
  const aliasName = KEY_GROUP_PREFIX + group;
  try {
    const key = await keyring.keys.create(tenant, { description: `Key group ${group}`, tags: {} }, (tx, k) => keyring.aliases.create(tenant, aliasName, k.keyId, tx));
    ctx.audit.keyId = key.keyId;
    return key;
  } finally {
    keyring.aliases.invalidate(tenant.id, aliasName);
  }
}

/** The group's key, or undefined if the group does not exist. */
export async function findKeyGroup(ctx: CallerContext, group: string): Promise<KeyRecord | undefined> {
  const { keyring } = ctx.services;
  const alias = await keyring.aliases.find(ctx.caller.tenant, KEY_GROUP_PREFIX + group);
  if (alias === undefined) return undefined;
  ctx.audit.keyId = alias.targetKeyId;
  return keyring.keys.find(ctx.caller.tenant, alias.targetKeyId);
}

export function alreadyExists(e: unknown): boolean {
  return e instanceof KeywardError && e.code === 'AlreadyExistsException';
}
