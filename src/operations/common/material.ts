import { KeywardError } from '../../errors/index.js';
import type { KeyRecord } from '../../keyring/index.js';

/** An enabled key whose material is missing from the store is damage, not a caller's mistake. */
export function requireMaterial<T>(key: KeyRecord, material: T | undefined): T {
  if (material === undefined) {
    throw new KeywardError('IntegrityException', `The primary version of key ${key.keyId} has no material in the store.`);
  }
  return material;
}
