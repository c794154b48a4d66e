import type { VersionState } from '../../keyring/index.js';
import type { CallerContext } from '../context.js';
import { invalid, type Input } from './input.js';
import { keyArnOf, readKeyId, resolveKey } from './resolve-key.js';

export function readVersionRequest(input: Input): { keyId: string; version: number } {
  const version = input.integer('Version', { min: 1, max: 0xffffffff });
  if (version === undefined) throw invalid('Version', 'Member must not be null');
  return { keyId: readKeyId(input), version };
}

/** Shared by Enable/Disable/DestroyKeyVersion: the state change itself lives in the keyring. */
export async function setVersionState(ctx: CallerContext, req: { keyId: string; version: number }, state: VersionState): Promise<Record<string, unknown>> {
  const key = await resolveKey(ctx, req.keyId);
  await ctx.services.keyring.keys.setVersionState(ctx.caller.tenant, key.keyId, req.version, state);
  return { KeyId: keyArnOf(ctx, key), Version: req.version, State: state };
}
