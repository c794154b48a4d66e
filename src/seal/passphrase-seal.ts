import { hashRaw } from '@node-rs/argon2';
import { randomBytes } from '../crypto/index.js';
import { KeywardError } from '../errors/index.js';
import type { Argon2Params, PassphraseSealConfig } from './seal-config.js';
import { unwrapRootKey, wrapRootKey } from './root-key-wrap.js';

/** OWASP-grade defaults; stored with the salt so they can be raised later (DESIGN.md section 1). */
export const DEFAULT_ARGON2 = { memoryKiB: 64 * 1024, iterations: 3, parallelism: 1 } as const;
export const MIN_PASSPHRASE_LENGTH = 8;
const ARGON2ID = 2; // Algorithm.Argon2id: a const enum, not importable under isolatedModules

export type Argon2Cost = Pick<Argon2Params, 'memoryKiB' | 'iterations' | 'parallelism'>;

/** A passphrase's length as a string's (UTF-16 units), also when it comes as UTF-8 bytes. */
function passphraseLength(passphrase: string | Buffer): number {
  if (typeof passphrase === 'string') return passphrase.length;
  let n = 0;
  for (const b of passphrase) if ((b & 0xc0) !== 0x80) n += b >= 0xf0 ? 2 : 1;
  return n;
}

export function checkPassphrase(passphrase: string | Buffer): void {
  if (passphraseLength(passphrase) < MIN_PASSPHRASE_LENGTH) {
    throw new KeywardError('ValidationException', `The passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters long.`);
  }
}

/**
 * The Argon2id costs Keyward accepts, from configuration or from the store: a `core/seal` record
 * edited to ask for terabytes or a million passes must not hang unseal or exhaust memory.
 */
export const ARGON2_LIMITS = { memoryKiB: { min: 8, max: 1024 * 1024 }, iterations: { min: 1, max: 16 }, parallelism: { min: 1, max: 16 }, saltBytes: { min: 8, max: 64 } } as const;

function checkArgon2(params: Argon2Params): void {
  const within = (v: unknown, r: { min: number; max: number }) => typeof v === 'number' && Number.isInteger(v) && v >= r.min && v <= r.max;
  const salt = typeof params.salt === 'string' ? Buffer.from(params.salt, 'base64').length : -1;
  if (params.algorithm !== 'argon2id' || !within(params.memoryKiB, ARGON2_LIMITS.memoryKiB) || !within(params.iterations, ARGON2_LIMITS.iterations)
    || !within(params.parallelism, ARGON2_LIMITS.parallelism) || !within(salt, ARGON2_LIMITS.saltBytes)) {
    throw new KeywardError('IntegrityException', `The seal configuration's Argon2 parameters are out of bounds (argon2id, memory ${ARGON2_LIMITS.memoryKiB.min}-${ARGON2_LIMITS.memoryKiB.max} KiB, ${ARGON2_LIMITS.iterations.min}-${ARGON2_LIMITS.iterations.max} passes, parallelism ${ARGON2_LIMITS.parallelism.min}-${ARGON2_LIMITS.parallelism.max}, salt ${ARGON2_LIMITS.saltBytes.min}-${ARGON2_LIMITS.saltBytes.max} bytes): the core/seal record was altered. Nothing was derived.`);
  }
}

export async function deriveUnsealKey(passphrase: string | Buffer, params: Argon2Params): Promise<Buffer> {
  checkArgon2(params);
  return hashRaw(passphrase, {
    algorithm: ARGON2ID,
    memoryCost: params.memoryKiB,
    timeCost: params.iterations,
    parallelism: params.parallelism,
    outputLen: 32,
    salt: Buffer.from(params.salt, 'base64'),
  });
}

/** Wraps the root key under Argon2id(passphrase) with a fresh salt. */
export async function passphraseSeal(rootKey: Buffer, passphrase: string | Buffer, cost: Argon2Cost = DEFAULT_ARGON2): Promise<PassphraseSealConfig> {
  checkPassphrase(passphrase);
  const kdf: Argon2Params = { algorithm: 'argon2id', ...cost, salt: randomBytes(16).toString('base64') };
  const unsealKey = await deriveUnsealKey(passphrase, kdf);
  return { type: 'passphrase', kdf, wrappedRootKey: wrapRootKey(unsealKey, rootKey) };
}

export async function passphraseUnseal(config: PassphraseSealConfig, passphrase: string | Buffer): Promise<Buffer> {
  const unsealKey = await deriveUnsealKey(passphrase, config.kdf);
  return unwrapRootKey(unsealKey, config.wrappedRootKey, 'The passphrase does not unlock this Keyward installation.');
}
