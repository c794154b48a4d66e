import { requireNotPendingDeletion, type KeyRecord } from '../../keyring/index.js';
import type { CallerContext } from '../context.js';
import { resolveKeyNoAlias } from './resolve-key.js';

/** The key an alias may point at: named by id or ARN, and not pending deletion. */
export async function aliasTarget(ctx: CallerContext, targetKeyId: string): Promise<KeyRecord> {
  const key = await resolveKeyNoAlias(ctx, 'TargetKeyId', targetKeyId);
  requireNotPendingDeletion(key, ctx.services.keyring.keys.arn(ctx.caller.tenant, key.keyId));
  return key;
}
