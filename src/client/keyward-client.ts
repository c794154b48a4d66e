import { request as httpRequest, Agent as HttpAgent, type IncomingMessage } from 'node:http';
import type * as Https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeywardApiError, KeywardConnectionError } from './errors.js';
import { SigV4Signer } from './sigv4.js';

export type Credentials =
  | { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string }
  | { readonly token: string };

export interface KeywardClientOptions {
  /** http(s)://host:port; default KEYWARD_ENDPOINT or http://127.0.0.1:9123. */
  readonly endpoint?: string;
  /** Reach the server over a Unix socket instead of TCP (the endpoint then only names the Host). */
  readonly socketPath?: string;
  /** Region for SigV4 and ARNs; default AWS_REGION or us-east-1. */
  readonly region?: string;
  /** Default: KEYWARD_TOKEN, else AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY. */
  readonly credentials?: Credentials;
  /**
   * Attempts per call (default KEYWARD_MAX_ATTEMPTS or 3): throttling, 5xx, timeouts and broken
   * connections are retried after an exponential backoff with jitter.
   */
  readonly maxAttempts?: number;
  /** Per-attempt timeout in ms (default 10 s). */
  readonly timeoutMs?: number;
  /** Trusted CA (PEM) for https endpoints with a private CA. */
  readonly ca?: string | Buffer;
}

export type EncryptionContext = Readonly<Record<string, string>>;

export interface ScopeName {
  /** Default: the caller's tenant. */
  readonly tenantId?: string;
  readonly scopeId: string;
}
export interface ScopeEncryptInput extends ScopeName {
  readonly plaintext: Uint8Array;
  readonly context?: EncryptionContext;
}
export interface ScopeEncryptOutput {
  readonly ciphertextBlob: Buffer;
  readonly keyId: string;
  readonly keyVersionId: string;
}
export interface ScopeDecryptInput extends ScopeName {
  readonly ciphertextBlob: Uint8Array;
  readonly context?: EncryptionContext;
  readonly keyVersionId?: string;
}
export interface ScopeDecryptOutput {
  readonly plaintext: Buffer;
  readonly keyVersionId: string;
}
export interface ScopeVersion {
  readonly keyId: string;
  readonly keyVersionId: string;
  readonly version: number;
}
export interface ScopeInfo extends ScopeVersion {
  readonly encryptionCount: number;
  readonly maxEncryptions: number;
  readonly status: string;
  readonly keyState: string;
}


/** Credentials from the environment, as the AWS CLI and Keyward's CLI read them. */
export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): Credentials | undefined {
  if (env.KEYWARD_TOKEN) return { token: env.KEYWARD_TOKEN };
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) };
  }
  return undefined;
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const unb64 = (s: unknown) => Buffer.from(typeof s === 'string' ? s : '', 'base64');

/**
 * A typed client for Keyward's AWS KMS JSON protocol and /v1/sys API. It depends on nothing
 * server-side: any AWS-KMS-compatible endpoint works for the TrentService operations.
 */
export class KeywardClient {
  readonly endpoint: URL;
  readonly region: string;
  private readonly credentials: Credentials | undefined;
  private readonly signer: SigV4Signer | undefined;
  private readonly agent: HttpAgent;
  private readonly maxAttempts: number;
  /** Calls sent and retries made, for callers who watch their error budget. */
  readonly stats = { calls: 0, retries: 0 };
  private readonly timeoutMs: number;

  constructor(private readonly options: KeywardClientOptions = {}) {
    this.endpoint = endpointUrl(options.endpoint ?? process.env.KEYWARD_ENDPOINT ?? 'http://127.0.0.1:9123');
    this.region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
    this.credentials = options.credentials ?? credentialsFromEnv();
    this.maxAttempts = options.maxAttempts ?? attemptsFromEnv(process.env.KEYWARD_MAX_ATTEMPTS);
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) throw new RangeError('maxAttempts must be a positive integer');
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.agent = this.endpoint.protocol === 'https:'
      ? new (https().Agent)({ keepAlive: true, ...(options.ca !== undefined ? { ca: options.ca } : {}) })
      : new HttpAgent({ keepAlive: true });
    if (this.credentials !== undefined && 'accessKeyId' in this.credentials) {
      this.signer = new SigV4Signer(this.credentials, this.region, 'kms');
    }
  }

  /** Calls `<namespace>.<Operation>` (e.g. `TrentService.CreateKey`, `Keyward.ListPrincipals`) with a JSON body. */
  async send<T = Record<string, unknown>>(target: string, body: Record<string, unknown> = {}): Promise<T> {
    const payload = JSON.stringify(body);
    return this.withRetries(() => this.exchange<T>('POST', '/', payload, { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target }, true));
  }

  /** Keyward's /v1/sys API (health, seal-status, init, unseal, seal). */
  async sys<T = Record<string, unknown>>(method: 'GET' | 'POST', path: string, body?: Record<string, unknown>, authenticated = false): Promise<T> {
    const payload = body === undefined ? '' : JSON.stringify(body);
    return this.withRetries(() => this.exchange<T>(method, `/v1/sys/${path}`, payload, { 'content-type': 'application/json' }, authenticated, true));
  }

  async encrypt(input: { keyId: string; plaintext: Uint8Array; context?: EncryptionContext }): Promise<{ ciphertextBlob: Buffer; keyId: string }> {
    const r = await this.send('TrentService.Encrypt', { KeyId: input.keyId, Plaintext: b64(input.plaintext), ...ctx('EncryptionContext', input.context) });
    return { ciphertextBlob: unb64(r.CiphertextBlob), keyId: String(r.KeyId) };
  }

  async decrypt(input: { ciphertextBlob: Uint8Array; context?: EncryptionContext; keyId?: string }): Promise<{ plaintext: Buffer; keyId: string }> {
    const r = await this.send('TrentService.Decrypt', {
      CiphertextBlob: b64(input.ciphertextBlob), ...ctx('EncryptionContext', input.context), ...(input.keyId !== undefined ? { KeyId: input.keyId } : {}),
    });
    return { plaintext: unb64(r.Plaintext), keyId: String(r.KeyId) };
  }

  async reEncrypt(input: { ciphertextBlob: Uint8Array; destinationKeyId: string; sourceContext?: EncryptionContext; destinationContext?: EncryptionContext; sourceKeyId?: string }): Promise<{ ciphertextBlob: Buffer; keyId: string; sourceKeyId: string }> {
    const r = await this.send('TrentService.ReEncrypt', {
      CiphertextBlob: b64(input.ciphertextBlob),
      DestinationKeyId: input.destinationKeyId,
      ...ctx('SourceEncryptionContext', input.sourceContext),
      ...ctx('DestinationEncryptionContext', input.destinationContext),
      ...(input.sourceKeyId !== undefined ? { SourceKeyId: input.sourceKeyId } : {}),
    });
    return { ciphertextBlob: unb64(r.CiphertextBlob), keyId: String(r.KeyId), sourceKeyId: String(r.SourceKeyId) };
  }

  async generateDataKey(input: { keyId: string; context?: EncryptionContext; numberOfBytes?: number; keySpec?: 'AES_256' | 'AES_128' }): Promise<{ plaintext: Buffer; ciphertextBlob: Buffer; keyId: string }> {
    const r = await this.send('TrentService.GenerateDataKey', {
      KeyId: input.keyId, ...ctx('EncryptionContext', input.context), ...dataKeyLength(input),
    });
    return { plaintext: unb64(r.Plaintext), ciphertextBlob: unb64(r.CiphertextBlob), keyId: String(r.KeyId) };
  }

  async generateDataKeyWithoutPlaintext(input: { keyId: string; context?: EncryptionContext; numberOfBytes?: number; keySpec?: 'AES_256' | 'AES_128' }): Promise<{ ciphertextBlob: Buffer; keyId: string }> {
    const r = await this.send('TrentService.GenerateDataKeyWithoutPlaintext', {
      KeyId: input.keyId, ...ctx('EncryptionContext', input.context), ...dataKeyLength(input),
    });
    return { ciphertextBlob: unb64(r.CiphertextBlob), keyId: String(r.KeyId) };
  }

  async describeKey(keyId: string): Promise<{ keyId: string; arn: string; keyState: string; enabled: boolean; description: string }> {
    const r = await this.send<{ KeyMetadata: Record<string, unknown> }>('TrentService.DescribeKey', { KeyId: keyId });
    const m = r.KeyMetadata;
    return { keyId: String(m.KeyId), arn: String(m.Arn), keyState: String(m.KeyState), enabled: m.Enabled === true, description: String(m.Description ?? '') };
  }

  async generateRandom(numberOfBytes: number): Promise<Buffer> {
    const r = await this.send('TrentService.GenerateRandom', { NumberOfBytes: numberOfBytes });
    return unb64(r.Plaintext);
  }

  /** Encrypts under a scope's key (created on first use): Keyward.ScopeEncrypt. */
  async scopeEncrypt(input: ScopeEncryptInput): Promise<ScopeEncryptOutput> {
    const r = await this.send('Keyward.ScopeEncrypt', { ...scopeFields(input), Plaintext: b64(input.plaintext), ...ctx('EncryptionContext', input.context) });
    return { ciphertextBlob: unb64(r.CiphertextBlob), keyId: String(r.KeyId), keyVersionId: String(r.KeyVersionId) };
  }

  async scopeDecrypt(input: ScopeDecryptInput): Promise<ScopeDecryptOutput> {
    const r = await this.send('Keyward.ScopeDecrypt', {
      ...scopeFields(input), CiphertextBlob: b64(input.ciphertextBlob), ...ctx('EncryptionContext', input.context),
      ...(input.keyVersionId !== undefined ? { KeyVersionId: input.keyVersionId } : {}),
    });
    return { plaintext: unb64(r.Plaintext), keyVersionId: String(r.KeyVersionId) };
  }

  async rotateScope(input: ScopeName): Promise<ScopeVersion> {
    const r = await this.send('Keyward.RotateScope', scopeFields(input));
    return { keyId: String(r.KeyId), keyVersionId: String(r.KeyVersionId), version: Number(r.Version) };
  }

  async describeScope(input: ScopeName): Promise<ScopeInfo> {
    const r = await this.send('Keyward.DescribeScope', scopeFields(input));
    return {
      keyId: String(r.KeyId), keyVersionId: String(r.KeyVersionId), version: Number(r.Version), encryptionCount: Number(r.EncryptionCount),
      maxEncryptions: Number(r.MaxEncryptions), status: String(r.Status), keyState: String(r.KeyState),
    };
  }

  close(): void {
    this.agent.destroy();
  }

  private async withRetries<T>(attempt: () => Promise<T>): Promise<T> {
    this.stats.calls++;
    for (let i = 1; ; i++) {
      try {
        return await attempt();
      } catch (e) {
        const transient = e instanceof KeywardApiError ? e.transient : isNetworkError(e);
        if (!transient || i >= this.maxAttempts) throw e instanceof KeywardApiError ? e : this.unreachable(e);
        this.stats.retries++;
        // exponential backoff, capped, with jitter so that many clients do not retry in step
        await sleep(Math.min(2000, 50 * 2 ** i) * (0.5 + Math.random() / 2));
      }
    }
  }

  /** A network failure as a Keyward error that says what to check (the cause stays attached). */
  private unreachable(e: unknown): unknown {
    const code = (e as { code?: unknown } | undefined)?.code;
    if (typeof code !== 'string' || !/^(E[A-Z]+|UND_ERR_SOCKET)$/.test(code)) return e;
    const where = this.options.socketPath !== undefined ? `the Unix socket ${this.options.socketPath}` : this.endpoint.origin;
    const why = code === 'ECONNREFUSED' ? 'connection refused: is the server running, and on this address?'
      : code === 'ETIMEDOUT' ? `no answer within ${this.timeoutMs} ms: is the address right, is a firewall dropping packets?`
        : code === 'EAI_AGAIN' || code === 'ENOTFOUND' ? 'the host name does not resolve.'
          : code === 'ENOENT' ? 'no such socket: is the server running with this socket path?'
            : `the connection broke (${code}).`;
    return new KeywardConnectionError(code, `Cannot reach Keyward at ${where}: ${why} Set the endpoint with --endpoint or KEYWARD_ENDPOINT (e.g. http://127.0.0.1:9123).`, e);
  }

  private async exchange<T>(method: string, path: string, payload: string, headers: Record<string, string>, authenticated: boolean, sys = false): Promise<T> {
    const all: Record<string, string> = { ...headers, host: this.endpoint.host };
    if (payload !== '') all['content-length'] = String(Buffer.byteLength(payload));
    if (authenticated) Object.assign(all, this.authorize(method, path, payload, all));
    const res = await this.roundTrip(method, path, payload, all);
    const text = res.body.toString('utf8');
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text === '' ? {} : JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new KeywardApiError('SerializationException', `unreadable response (HTTP ${res.status})`, res.status, res.requestId);
    }
    const healthStatus = sys && path === '/v1/sys/health' && (res.status === 503 || res.status === 501);
    if (res.status >= 300 && !healthStatus) {
      const type = String(parsed.__type ?? res.headers['x-amzn-errortype'] ?? 'UnknownError').split('#').pop() ?? 'UnknownError';
      throw new KeywardApiError(type, String(parsed.message ?? parsed.Message ?? `HTTP ${res.status}`), res.status, res.requestId);
    }
    return parsed as T;
  }

  private authorize(method: string, path: string, payload: string, headers: Record<string, string>): Record<string, string> {
    if (this.credentials === undefined) return {};
    if ('token' in this.credentials) return { authorization: `Bearer ${this.credentials.token}` };
    return this.signer!.sign({ method, path, headers, body: payload });
  }

  private roundTrip(method: string, path: string, payload: string, headers: Record<string, string>): Promise<{ status: number; body: Buffer; headers: IncomingMessage['headers']; requestId: string | undefined }> {
    const send = this.endpoint.protocol === 'https:' ? https().request : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send({
        method, path, headers, agent: this.agent, timeout: this.timeoutMs,
        ...(this.options.socketPath !== undefined ? { socketPath: this.options.socketPath } : { hostname: this.endpoint.hostname, port: this.endpoint.port }),
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers, requestId: res.headers['x-amzn-requestid'] as string | undefined }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error(`request timed out after ${this.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end(payload);
    });
  }
}

function scopeFields(input: ScopeName): Record<string, unknown> {
  return { ...(input.tenantId !== undefined ? { TenantId: input.tenantId } : {}), ScopeId: input.scopeId };
}

function ctx(field: string, context: EncryptionContext | undefined): Record<string, unknown> {
  return context === undefined || Object.keys(context).length === 0 ? {} : { [field]: context };
}

function dataKeyLength(input: { numberOfBytes?: number; keySpec?: string }): Record<string, unknown> {
  if (input.numberOfBytes !== undefined) return { NumberOfBytes: input.numberOfBytes };
  return { KeySpec: input.keySpec ?? 'AES_256' };
}

function attemptsFromEnv(value: string | undefined): number {
  if (value === undefined || value === '') return 3;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`KEYWARD_MAX_ATTEMPTS must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

function isNetworkError(e: unknown): boolean {
  const code = (e as { code?: string } | undefined)?.code;
  return code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT' || code === 'EPIPE' || code === 'EAI_AGAIN' || code === 'UND_ERR_SOCKET';
}

/**
 * The endpoint as a URL. `host:port` without a scheme is accepted: http for a loopback host (the
 * server's default listener), https otherwise (a non-loopback Keyward listener always has TLS).
 */
export function endpointUrl(endpoint: string): URL {
  const bare = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?\/?$/.exec(endpoint);
  if (bare !== null) {
    const host = bare[1]!;
    const loopback = host === 'localhost' || host.startsWith('127.') || host === '[::1]';
    return new URL(`${loopback ? 'http' : 'https'}://${endpoint}`);
  }
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new RangeError(`The endpoint ${JSON.stringify(endpoint)} is not a URL: use http://HOST:PORT, https://HOST:PORT or HOST:PORT.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RangeError(`The endpoint ${JSON.stringify(endpoint)} must be http://HOST:PORT, https://HOST:PORT or HOST:PORT.`);
  }
  return url;
}

/**
 * node:https (with node:tls) loads only for an https endpoint: a one-shot command against a
 * loopback Keyward should not pay ~1 MiB of RSS and its load time for it.
 */
function https(): typeof Https {
  return process.getBuiltinModule('node:https');
}
