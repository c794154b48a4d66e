import type { KeySource } from '../format/envelope.js';
import type { EncryptionContext } from './keyward-client.js';

/** A data key handed out for one encryption: use it synchronously, then call `done()`. */
export interface DataKeyLease {
  readonly key: Buffer;
  /** encodeKeySource() of where the key comes from, copied into every header. */
  readonly encodedSource: Buffer;
  /** Releases the lease: zeroizes the key unless a cache still owns it. */
  done(): void;
}

export interface EncryptionKeyRequest {
  /** KMS key id, ARN or alias; ignored by a local keyset. */
  readonly keyId: string | undefined;
  readonly context: EncryptionContext | undefined;
  /** canonicalContext(context), the cache partition. */
  readonly canonicalContext: Buffer;
  /** Plaintext bytes the lease will protect directly (0 for a stream, which derives its own key). */
  readonly bytes: number;
}

/** Where envelope data keys come from: Keyward (KmsKeyProvider) or a local Keyset. */
export interface KeyProvider {
  encryptionKey(request: EncryptionKeyRequest): Promise<DataKeyLease>;
  /** The same as encryptionKey when it can be answered at once (a cache hit), else undefined. */
  cachedEncryptionKey?(request: EncryptionKeyRequest): DataKeyLease | undefined;
  /** The data key named by a header; throws InvalidCiphertextError when it cannot be had. */
  decryptionKey(source: KeySource, context: EncryptionContext | undefined, canonicalContext: Buffer): Promise<DataKeyLease>;
}
