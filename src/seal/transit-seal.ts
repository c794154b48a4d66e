import type * as KmsSdkModule from '@aws-sdk/client-kms';
import type { KMSClient } from '@aws-sdk/client-kms';
import { KeywardError } from '../errors/index.js';
import type { AutoSealWrapper } from './auto-seal.js';

export interface TransitOptions {
  /** Endpoint of the outer AWS-KMS-compatible service (another Keyward, or AWS KMS). */
  readonly endpoint: string;
  readonly region: string;
  /** Key id, ARN or alias of the outer key that wraps the root key. */
  readonly keyId: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
  readonly timeoutMs?: number;
}

/** Encryption context binding the wrapped root key to its purpose at the outer KMS. */
const CONTEXT = { purpose: 'keyward-root-key' };

/** The root key wrapped by another KMS through the AWS SDK: Encrypt at init or rekey, Decrypt at unseal. */
export class TransitSeal implements AutoSealWrapper {
  readonly type = 'transit' as const;

  constructor(private readonly options: TransitOptions) {}

  describe(): Record<string, string> {
    return { endpoint: this.options.endpoint, keyId: this.options.keyId };
  }

  async wrap(rootKey: Buffer): Promise<string> {
    return this.call(async (kms, { EncryptCommand }) => {
      const r = await kms.send(new EncryptCommand({ KeyId: this.options.keyId, Plaintext: rootKey, EncryptionContext: CONTEXT }));
      if (r.CiphertextBlob === undefined) throw new Error('Encrypt answered no CiphertextBlob');
      return Buffer.from(r.CiphertextBlob).toString('base64');
    });
  }

  async unwrap(wrapped: string): Promise<Buffer> {
    return this.call(async (kms, { DecryptCommand }) => {
      const r = await kms.send(new DecryptCommand({ KeyId: this.options.keyId, CiphertextBlob: Buffer.from(wrapped, 'base64'), EncryptionContext: CONTEXT }));
      if (r.Plaintext === undefined) throw new Error('Decrypt answered no Plaintext');
      return Buffer.from(r.Plaintext);
    });
  }

  private async call<T>(fn: (kms: KMSClient, sdk: KmsSdk) => Promise<T>): Promise<T> {
    // loaded on first use: only a transit-sealed node pays for the AWS SDK
    const sdk = await import('@aws-sdk/client-kms');
    const kms = new sdk.KMSClient({
      endpoint: this.options.endpoint,
      region: this.options.region,
      credentials: this.options.credentials,
      maxAttempts: 2,
      requestHandler: { requestTimeout: this.options.timeoutMs ?? 10_000, connectionTimeout: this.options.timeoutMs ?? 10_000 },
    });
    try {
      return await fn(kms, sdk);
    } catch (e) {
      throw transitError(e, this.options, sdk.KMSServiceException);
    } finally {
      kms.destroy();
    }
  }
}

type KmsSdk = typeof KmsSdkModule;

function transitError(e: unknown, o: TransitOptions, KMSServiceException: KmsSdk['KMSServiceException']): KeywardError {
  const where = `the transit KMS at ${o.endpoint} (key ${o.keyId})`;
  if (e instanceof KMSServiceException) {
    if (e.name === 'InvalidCiphertextException' || e.name === 'IncorrectKeyException') {
      return new KeywardError('UnsealFailedException', `${where} does not decrypt the wrapped root key (${e.name}): is transitKeyId the key this installation was sealed with?`);
    }
    const hint = e.name === 'DisabledException' ? 'the key is disabled' : e.name === 'NotFoundException' ? 'the key does not exist' : e.name;
    return new KeywardError('SealUnavailableException', `${where} refused: ${hint}: ${e.message}. Keyward stays sealed.`, { cause: e });
  }
  const code = (e as { code?: string }).code ?? (e as Error).name;
  return new KeywardError('SealUnavailableException', `${where} is unreachable (${code}): ${(e as Error).message}. Keyward stays sealed.`, { cause: e });
}
