import { KeywardError } from '../../errors/index.js';
import { algorithmsOf, type KeyRecord, type SupportedKeyUsage, type UsageAlgorithms } from '../../keyring/index.js';

/** The key's usage must be the operation's (AWS: InvalidKeyUsageException). */
export function requireUsage(arn: string, key: KeyRecord, usage: SupportedKeyUsage, operation: string): void {
  if (key.keyUsage !== usage) {
    throw new KeywardError('InvalidKeyUsageException', `${operation} needs a key whose KeyUsage is ${usage}; ${arn} is ${key.keyUsage} (${key.keySpec}).`);
  }
}

/** The algorithm must be one the key's spec and usage offer (AWS: InvalidKeyUsageException). */
export function requireAlgorithm(arn: string, key: KeyRecord, kind: keyof UsageAlgorithms, field: string, algorithm: string): void {
  const allowed: readonly string[] = algorithmsOf(key.keySpec, key.keyUsage)[kind] ?? [];
  if (!allowed.includes(algorithm)) {
    const offer = allowed.length > 0 ? `it supports ${allowed.join(', ')}` : `it has no ${field}`;
    throw new KeywardError('InvalidKeyUsageException', `${field} ${algorithm} is not valid for ${arn} (${key.keySpec}, ${key.keyUsage}): ${offer}.`);
  }
}

/** Symmetric encryption keys only (data keys, data key pairs). */
export function requireSymmetricEncryption(arn: string, key: KeyRecord, operation: string): void {
  if (key.keySpec !== 'SYMMETRIC_DEFAULT') {
    throw new KeywardError('InvalidKeyUsageException', `${operation} needs a symmetric encryption key; ${arn} is ${key.keySpec} (${key.keyUsage}).`);
  }
}
