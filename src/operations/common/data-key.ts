import { KeywardError } from '../../errors/index.js';
import { randomBytes } from '../../crypto/index.js';
import { requireEnabled, type KeyRecord } from '../../keyring/index.js';
import type { CallerContext } from '../context.js';
import type { Input } from './input.js';
import { requireSymmetricEncryption } from './key-usage.js';
import { keyArnOf, resolveKey } from './resolve-key.js';

export const DATA_KEY_SPECS = ['AES_256', 'AES_128'] as const;

/** NumberOfBytes (1-1024) or KeySpec, exactly one, as AWS requires. */
export function readDataKeyLength(input: Input): number {
  const bytes = input.integer('NumberOfBytes', { min: 1, max: 1024 });
  const spec = input.oneOf('KeySpec', DATA_KEY_SPECS);
  if (bytes !== undefined && spec !== undefined) throw new KeywardError('ValidationException', 'Specify either NumberOfBytes or KeySpec, not both.');
  if (bytes === undefined && spec === undefined) throw new KeywardError('ValidationException', 'Please specify either NumberOfBytes or KeySpec.');
  return bytes ?? (spec === 'AES_128' ? 16 : 32);
}

export function newDataKey(length: number): Buffer {
  return randomBytes(length);
}

/** The key that encrypts a data key or data key pair: enabled, symmetric encryption (as AWS). */
export async function dataKeyTarget(ctx: CallerContext, keyIdParam: string, operation: string, context: Readonly<Record<string, string>> | undefined): Promise<{ key: KeyRecord; arn: string }> {
  const key = await resolveKey(ctx, keyIdParam, { context });
  const arn = keyArnOf(ctx, key);
  requireEnabled(key, arn);
  requireSymmetricEncryption(arn, key, operation);
  return { key, arn };
}
