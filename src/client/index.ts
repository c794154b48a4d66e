export { KeywardClient, credentialsFromEnv, type KeywardClientOptions, type Credentials, type EncryptionContext } from './keyward-client.js';
export { KeywardApiError, InvalidCiphertextError, KeywardUsageError } from './errors.js';
export { Envelope, type EnvelopeOptions, type EncryptOptions, type EncryptStreamOptions, type DecryptOptions } from './envelope.js';
export { KmsKeyProvider, type KmsKeyProviderOptions } from './kms-key-provider.js';
export { DEFAULT_CACHE_LIMITS, type DataKeyCacheLimits, type CacheStats } from './data-key-cache.js';
export type { KeyProvider, DataKeyLease, EncryptionKeyRequest } from './key-provider.js';
export { Keyset, type KeysetOptions, type KeysetKeyInfo } from './keyset.js';
