import { HASH_OF, MAC_ALGORITHMS, requireEnabled, type MacAlgorithm } from '../../keyring/index.js';
import type { CallerContext } from '../context.js';
import type { Input } from './input.js';
import { requireAlgorithm, requireUsage } from './key-usage.js';
import { requireMaterial } from './material.js';
import { keyArnOf, readKeyId, resolveKey } from './resolve-key.js';
import { MAX_MESSAGE_BYTES } from './signing.js';

export interface MacRequest {
  readonly keyId: string;
  readonly message: Buffer;
  readonly algorithm: MacAlgorithm;
  readonly grantTokens: string[] | undefined;
  readonly dryRun: boolean | undefined;
}

export function readMacRequest(input: Input): MacRequest {
  return {
    keyId: readKeyId(input),
    message: input.requiredBlob('Message', { min: 1, max: MAX_MESSAGE_BYTES }),
    algorithm: input.requiredOneOf('MacAlgorithm', MAC_ALGORITHMS),
    grantTokens: input.stringList('GrantTokens', { max: 10, itemMax: 8192 }),
    dryRun: input.boolean('DryRun'),
  };
}

/** The HMAC key's material (owned by the cache: use it before the next await). */
export async function macKey(ctx: CallerContext, req: MacRequest, operation: string): Promise<{ arn: string; material: Buffer; hash: string }> {
  const key = await resolveKey(ctx, req.keyId);
  const arn = keyArnOf(ctx, key);
  requireEnabled(key, arn);
  requireUsage(arn, key, 'GENERATE_VERIFY_MAC', operation);
  requireAlgorithm(arn, key, 'mac', 'MacAlgorithm', req.algorithm);
  ctx.audit.keyVersion = key.primaryVersion;
  const material = requireMaterial(key, await ctx.services.keyring.keys.material(ctx.caller.tenant, key.keyId, key.primaryVersion));
  return { arn, material, hash: HASH_OF[req.algorithm].name };
}
