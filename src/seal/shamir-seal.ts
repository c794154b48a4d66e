import { randomBytes, zeroize } from '../crypto/index.js';
import { KeywardError } from '../errors/index.js';
import type { SecretText } from '../format/index.js';
import { checkValueOf, matchesCheckValue } from './check-value.js';
import { unwrapRootKey, wrapRootKey } from './root-key-wrap.js';
import type { RecoveryConfig, ShamirSealConfig } from './seal-config.js';
import { combineShares, splitSecret, type ShareLayout } from './shamir.js';

/** A random unseal key, split into shares printed once; the store keeps only its check value. */
export async function shamirSeal(rootKey: Buffer, layout: ShareLayout): Promise<{ config: ShamirSealConfig; shares: SecretText[] }> {
  const unsealKey = randomBytes(32);
  const shares = await splitSecret(unsealKey, layout);
  const checkValue = checkValueOf(unsealKey);
  const config: ShamirSealConfig = { type: 'shamir', shares: layout.shares, threshold: layout.threshold, checkValue, wrappedRootKey: wrapRootKey(unsealKey, rootKey) };
  return { config, shares };
}

const WRONG_SHARES = 'The shares do not combine to the unseal key (check value mismatch): at least one share is wrong or from another installation. Progress was reset; start again.';

/** Combines the shares and checks the result against the stored check value. */
export async function shamirUnsealKey(config: ShamirSealConfig, shares: readonly Buffer[]): Promise<Buffer> {
  const unsealKey = await combineShares(shares);
  if (!matchesCheckValue(unsealKey, config.checkValue)) {
    zeroize(unsealKey);
    throw new KeywardError('UnsealFailedException', WRONG_SHARES);
  }
  return unsealKey;
}

export async function shamirUnseal(config: ShamirSealConfig, shares: readonly Buffer[]): Promise<Buffer> {
  const unsealKey = await shamirUnsealKey(config, shares);
  return unwrapRootKey(unsealKey, config.wrappedRootKey, 'The unseal key matches its check value but does not open the root key: the seal record is damaged.');
}

/** The same shares (same unseal key) over a new root key: root rotation keeps the operators' shares. */
export function shamirRewrap(config: ShamirSealConfig, unsealKey: Buffer, rootKey: Buffer): ShamirSealConfig {
  return { ...config, wrappedRootKey: wrapRootKey(unsealKey, rootKey) };
}

/** Recovery key for auto-unseal seals: split into shares, only its check value is kept. */
export async function newRecovery(layout: ShareLayout): Promise<{ config: RecoveryConfig; shares: SecretText[] }> {
  const recoveryKey = randomBytes(32);
  try {
    const shares = await splitSecret(recoveryKey, layout);
    return { config: { shares: layout.shares, threshold: layout.threshold, checkValue: checkValueOf(recoveryKey) }, shares };
  } finally {
    zeroize(recoveryKey);
  }
}

export async function verifyRecovery(config: RecoveryConfig, shares: readonly Buffer[]): Promise<void> {
  if (shares.length !== config.threshold) {
    throw new KeywardError('ValidationException', `This operation needs ${config.threshold} recovery shares, got ${shares.length}.`);
  }
  const key = await combineShares(shares);
  try {
    if (!matchesCheckValue(key, config.checkValue)) {
      throw new KeywardError('UnsealFailedException', 'The recovery shares do not combine to the recovery key (check value mismatch).');
    }
  } finally {
    zeroize(key);
  }
}
