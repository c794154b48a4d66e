import { MAX_SHARES, SEAL_TYPES, type SealAuthorization, type SealSecrets, type SealSpec, type SealType } from '../../seal/index.js';
import type { Input } from './input.js';

/**
 * Reads a seal description from a request: `seal` (default passphrase), `passphrase`, `shares`
 * and `threshold` (shamir), `recovery_shares` and `recovery_threshold` (auto-unseal seals).
 * `prefix` reads `new_passphrase` and friends for rekey.
 */
export function parseSealSpec(input: Input, prefix = '', defaultType: SealType = 'passphrase'): SealSpec {
  const type = input.oneOf(`${prefix}seal`, SEAL_TYPES) ?? defaultType;
  const passphrase = input.secret(`${prefix}passphrase`, { min: 1, max: 1024 });
  const shares = input.integer(`${prefix}shares`, { min: 1, max: MAX_SHARES });
  const threshold = input.integer(`${prefix}threshold`, { min: 1, max: MAX_SHARES });
  const recoveryShares = input.integer(`${prefix}recovery_shares`, { min: 1, max: MAX_SHARES });
  const recoveryThreshold = input.integer(`${prefix}recovery_threshold`, { min: 1, max: MAX_SHARES });
  return {
    type,
    ...(passphrase !== undefined ? { passphrase } : {}),
    ...(shares !== undefined ? { shares } : {}),
    ...(threshold !== undefined ? { threshold } : {}),
    ...(recoveryShares !== undefined ? { recoveryShares } : {}),
    ...(recoveryThreshold !== undefined ? { recoveryThreshold } : {}),
  };
}

/** Proof of the current seal: `passphrase`, or `shares` (unseal shares, or recovery shares of an auto seal). */
export function parseSealAuthorization(input: Input): SealAuthorization {
  const passphrase = input.secret('passphrase', { min: 1, max: 1024 });
  const shares = input.secretList('shares', { max: MAX_SHARES, itemMax: 128 });
  return { ...(passphrase !== undefined ? { passphrase } : {}), ...(shares !== undefined ? { shares } : {}) };
}

/** Shares shown once, in the response only. */
export function secretsView(secrets: SealSecrets): Record<string, unknown> {
  return {
    ...(secrets.shares !== undefined ? { shares: secrets.shares } : {}),
    ...(secrets.recoveryShares !== undefined ? { recovery_shares: secrets.recoveryShares } : {}),
  };
}
