import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as Grpc from '@grpc/grpc-js';
import { KeywardApiError } from './errors.js';
import type {
  EncryptionContext, ScopeDecryptInput, ScopeDecryptOutput, ScopeEncryptInput, ScopeEncryptOutput, ScopeInfo, ScopeName, ScopeVersion,
} from './keyward-client.js';

/** The protos shipped with the package (beside dist/ and src/). */
const PROTO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../proto');

export interface KeywardGrpcClientOptions {
  /** host:port or unix:/path; default KEYWARD_GRPC_ENDPOINT or 127.0.0.1:9124. */
  readonly address?: string;
  /** Bearer token (default KEYWARD_TOKEN); none on a socket bound to a principal. */
  readonly token?: string;
  /** TLS with this CA (PEM); plaintext otherwise (loopback and Unix sockets). */
  readonly ca?: string | Buffer;
  /** Attempts per call for throttling and unavailability (default 3). */
  readonly maxAttempts?: number;
  /** Deadline per attempt in ms (default 10 s). */
  readonly timeoutMs?: number;
}

type Message = Record<string, unknown>;
type UnaryMethod = (request: Message, metadata: Grpc.Metadata, options: Grpc.CallOptions, callback: (e: Grpc.ServiceError | null, r?: Message) => void) => void;

interface Loaded {
  readonly grpc: typeof Grpc;
  readonly Kms: Grpc.ServiceClientConstructor;
  readonly Scopes: Grpc.ServiceClientConstructor;
}

let loading: Promise<Loaded> | undefined;

/** grpc-js and the protos load on the first call (the HTTP client's users never pay for them). */
function load(): Promise<Loaded> {
  loading ??= (async () => {
    const grpc = await import('@grpc/grpc-js');
    const { loadSync } = await import('@grpc/proto-loader');
    const def = loadSync(['keyward/v1/kms.proto', 'keyward/v1/scopes.proto'], { keepCase: true, longs: Number, enums: String, bytes: Buffer, defaults: true, oneofs: true, includeDirs: [PROTO_ROOT] });
    const v1 = (grpc.loadPackageDefinition(def).keyward as Grpc.GrpcObject).v1 as Grpc.GrpcObject;
    return { grpc, Kms: v1.Kms as Grpc.ServiceClientConstructor, Scopes: v1.Scopes as Grpc.ServiceClientConstructor };
  })();
  return loading;
}

const ctx = (field: string, context: EncryptionContext | undefined): Message => (context === undefined ? {} : { [field]: context });
const bytes = (v: unknown): Buffer => (Buffer.isBuffer(v) ? v : Buffer.alloc(0));

/**
 * A client of Keyward's gRPC services (proto/keyward/v1), with the same calls as KeywardClient
 * for the data plane, plus scopes. Errors are KeywardApiError with the registry code.
 */
export class KeywardGrpcClient {
  readonly address: string;
  private readonly token: string | undefined;
  private readonly maxAttempts: number;
  private readonly timeoutMs: number;
  private clients: Promise<{ kms: Grpc.Client; scopes: Grpc.Client; metadata: Grpc.Metadata; grpc: typeof Grpc }> | undefined;
  private closed = false;

  constructor(private readonly options: KeywardGrpcClientOptions = {}) {
    this.address = options.address ?? process.env.KEYWARD_GRPC_ENDPOINT ?? '127.0.0.1:9124';
    const token = options.token ?? process.env.KEYWARD_TOKEN;
    this.token = token === '' ? undefined : token;
    this.maxAttempts = options.maxAttempts ?? 3;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  async encrypt(input: { keyId: string; plaintext: Uint8Array; context?: EncryptionContext }): Promise<{ ciphertextBlob: Buffer; keyId: string }> {
    const r = await this.call('kms', 'Encrypt', { key_id: input.keyId, plaintext: input.plaintext, ...ctx('encryption_context', input.context) });
    return { ciphertextBlob: bytes(r.ciphertext_blob), keyId: String(r.key_id) };
  }

  async decrypt(input: { ciphertextBlob: Uint8Array; context?: EncryptionContext; keyId?: string }): Promise<{ plaintext: Buffer; keyId: string }> {
    const r = await this.call('kms', 'Decrypt', { ciphertext_blob: input.ciphertextBlob, ...ctx('encryption_context', input.context), ...(input.keyId !== undefined ? { key_id: input.keyId } : {}) });
    return { plaintext: bytes(r.plaintext), keyId: String(r.key_id) };
  }

  async reEncrypt(input: { ciphertextBlob: Uint8Array; destinationKeyId: string; sourceContext?: EncryptionContext; destinationContext?: EncryptionContext; sourceKeyId?: string }): Promise<{ ciphertextBlob: Buffer; keyId: string; sourceKeyId: string }> {
    const r = await this.call('kms', 'ReEncrypt', {
      ciphertext_blob: input.ciphertextBlob, destination_key_id: input.destinationKeyId,
      ...ctx('source_encryption_context', input.sourceContext), ...ctx('destination_encryption_context', input.destinationContext),
      ...(input.sourceKeyId !== undefined ? { source_key_id: input.sourceKeyId } : {}),
    });
    return { ciphertextBlob: bytes(r.ciphertext_blob), keyId: String(r.key_id), sourceKeyId: String(r.source_key_id) };
  }

  async generateDataKey(input: { keyId: string; context?: EncryptionContext; numberOfBytes?: number; keySpec?: 'AES_256' | 'AES_128' }): Promise<{ plaintext: Buffer; ciphertextBlob: Buffer; keyId: string }> {
    const r = await this.call('kms', 'GenerateDataKey', { key_id: input.keyId, ...ctx('encryption_context', input.context), ...dataKeyLength(input) });
    return { plaintext: bytes(r.plaintext), ciphertextBlob: bytes(r.ciphertext_blob), keyId: String(r.key_id) };
  }

  async generateDataKeyWithoutPlaintext(input: { keyId: string; context?: EncryptionContext; numberOfBytes?: number; keySpec?: 'AES_256' | 'AES_128' }): Promise<{ ciphertextBlob: Buffer; keyId: string }> {
    const r = await this.call('kms', 'GenerateDataKeyWithoutPlaintext', { key_id: input.keyId, ...ctx('encryption_context', input.context), ...dataKeyLength(input) });
    return { ciphertextBlob: bytes(r.ciphertext_blob), keyId: String(r.key_id) };
  }

  async scopeEncrypt(input: ScopeEncryptInput): Promise<ScopeEncryptOutput> {
    const r = await this.call('scopes', 'ScopeEncrypt', { ...scope(input), plaintext: input.plaintext, ...ctx('encryption_context', input.context) });
    return { ciphertextBlob: bytes(r.ciphertext_blob), keyId: String(r.key_id), keyVersionId: String(r.key_version_id) };
  }

  async scopeDecrypt(input: ScopeDecryptInput): Promise<ScopeDecryptOutput> {
    const r = await this.call('scopes', 'ScopeDecrypt', {
      ...scope(input), ciphertext_blob: input.ciphertextBlob, ...ctx('encryption_context', input.context),
      ...(input.keyVersionId !== undefined ? { key_version_id: input.keyVersionId } : {}),
    });
    return { plaintext: bytes(r.plaintext), keyVersionId: String(r.key_version_id) };
  }

  async rotateScope(input: ScopeName): Promise<ScopeVersion> {
    const r = await this.call('scopes', 'RotateScope', scope(input));
    return { keyId: String(r.key_id), keyVersionId: String(r.key_version_id), version: Number(r.version) };
  }

  async describeScope(input: ScopeName): Promise<ScopeInfo> {
    const r = await this.call('scopes', 'DescribeScope', scope(input));
    return {
      keyId: String(r.key_id), keyVersionId: String(r.key_version_id), version: Number(r.version), encryptionCount: Number(r.encryption_count),
      maxEncryptions: Number(r.max_encryptions), status: String(r.status), keyState: String(r.key_state),
    };
  }

  close(): void {
    this.closed = true;
    void this.clients?.then((c) => {
      c.scopes.close();
      c.kms.close();
    });
  }

  private connect() {
    this.clients ??= load().then(({ grpc, Kms, Scopes }) => {
      const credentials = this.options.ca !== undefined ? grpc.credentials.createSsl(Buffer.from(this.options.ca)) : grpc.credentials.createInsecure();
      const kms = new Kms(this.address, credentials);
      // one channel for both services
      const scopes = new Scopes(this.address, credentials, { channelOverride: kms.getChannel() });
      const metadata = new grpc.Metadata();
      if (this.token !== undefined) metadata.set('authorization', `Bearer ${this.token}`);
      return { kms, scopes, metadata, grpc };
    });
    return this.clients;
  }

  private async call(service: 'kms' | 'scopes', method: string, request: Message): Promise<Message> {
    if (this.closed) throw new Error('the gRPC client is closed');
    const c = await this.connect();
    for (let attempt = 1; ; attempt++) {
      try {
        return await new Promise<Message>((done, fail) => {
          (c[service] as unknown as Record<string, UnaryMethod>)[method]!(request, c.metadata, { deadline: Date.now() + this.timeoutMs }, (e, r) => (e ? fail(e) : done(r ?? {})));
        });
      } catch (e) {
        const err = apiError(e as Grpc.ServiceError, c.grpc);
        if (!err.transient || attempt >= this.maxAttempts) throw err;
        await sleep(Math.min(2000, 50 * 2 ** attempt) * (0.5 + Math.random() / 2));
      }
    }
  }
}

function scope(input: ScopeName): Message {
  return { ...(input.tenantId !== undefined ? { tenant_id: input.tenantId } : {}), scope_id: input.scopeId };
}

function dataKeyLength(input: { numberOfBytes?: number; keySpec?: string }): Message {
  return input.numberOfBytes !== undefined ? { number_of_bytes: input.numberOfBytes } : { key_spec: input.keySpec ?? 'AES_256' };
}

/** A gRPC failure as KeywardApiError: the registry code from the trailer, else from the status. */
function apiError(e: Grpc.ServiceError, grpc: typeof Grpc): KeywardApiError {
  const trailer = e.metadata?.get('keyward-error-code')[0];
  const requestId = e.metadata?.get('keyward-request-id')[0];
  const details = e.details ?? e.message;
  const { status } = grpc;
  const code = typeof trailer === 'string' ? trailer : e.code === status.UNAVAILABLE ? 'ServiceUnavailable' : status[e.code] ?? 'UnknownError';
  const message = details.startsWith(`${code}: `) ? details.slice(code.length + 2) : details;
  const httpLike = e.code === status.UNAVAILABLE ? 503 : e.code === status.INTERNAL || e.code === status.DATA_LOSS ? 500 : 400;
  return new KeywardApiError(code, message, httpLike, typeof requestId === 'string' ? requestId : undefined);
}
