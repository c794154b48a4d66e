export {
  KeywardClient, credentialsFromEnv, type KeywardClientOptions, type Credentials, type EncryptionContext, type ScopeName,
  type ScopeEncryptInput, type ScopeEncryptOutput, type ScopeDecryptInput, type ScopeDecryptOutput, type ScopeVersion, type ScopeInfo,
} from './keyward-client.js';
export { KeywardApiError, KeywardConnectionError, InvalidCiphertextError, KeywardUsageError } from './errors.js';
export { KeywardGrpcClient, type KeywardGrpcClientOptions } from './grpc-client.js';
export { Envelope, type EnvelopeOptions, type EncryptOptions, type EncryptStreamOptions, type DecryptOptions } from './envelope.js';
export type { EncryptFileOptions } from './encrypt-file.js';
export type { DecryptFileOptions } from './decrypt-file.js';
export type { FileOptions } from './file-io.js';
export { KmsKeyProvider, type KmsKeyProviderOptions } from './kms-key-provider.js';
export { DEFAULT_CACHE_LIMITS, type DataKeyCacheLimits, type CacheStats } from './data-key-cache.js';
export type { KeyProvider, DataKeyLease, EncryptionKeyRequest } from './key-provider.js';
export { Keyset, type KeysetOptions, type KeysetKeyInfo } from './keyset.js';
