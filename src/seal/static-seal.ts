import { zeroize } from '../crypto/index.js';
import { KeywardError } from '../errors/index.js';
import { checkValueOf, matchesCheckValue } from './check-value.js';
import { unwrapRootKey, wrapRootKey } from './root-key-wrap.js';
import type { RecoveryConfig, StaticSealConfig } from './seal-config.js';

/**
 * The static seal: a 256-bit key from the environment (KEYWARD_ROOT_KEY, hex) or a file wraps
 * the root key. For automation and tests: whoever reads the environment holds every key.
 */
export function parseStaticKey(text: string, source: string): Buffer {
  const hex = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new KeywardError('ValidationException', `The static root key from ${source} must be 64 hex characters (32 bytes); generate one with \`openssl rand -hex 32\`.`);
  }
  return Buffer.from(hex, 'hex');
}

export function staticSeal(rootKey: Buffer, staticKey: Buffer, recovery: RecoveryConfig): StaticSealConfig {
  const checkValue = checkValueOf(staticKey);
  return { type: 'static', checkValue, wrappedRootKey: wrapRootKey(Buffer.from(staticKey), rootKey), recovery };
}

export function staticUnseal(config: StaticSealConfig, staticKey: Buffer): Buffer {
  if (!matchesCheckValue(staticKey, config.checkValue)) {
    zeroize(staticKey);
    throw new KeywardError('UnsealFailedException', 'The static root key (KEYWARD_ROOT_KEY or --root-key-file) is not the one this installation was sealed with.');
  }
  return unwrapRootKey(staticKey, config.wrappedRootKey, 'The static key matches its check value but does not open the root key: the seal record is damaged.');
}
