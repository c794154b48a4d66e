import { SignatureV4 } from '@smithy/signature-v4';

/**
 * The console is a client like any other: it calls the AWS KMS JSON protocol (`POST /` with
 * X-Amz-Target `TrentService.*` or `Keyward.*`) and /v1/sys/* on the origin that served it, signed
 * with SigV4 or a bearer token. The secret lives in this module's memory only: never in storage,
 * so a reload asks again.
 */
export type Credentials =
  | { readonly kind: 'token'; readonly token: string }
  | { readonly kind: 'keys'; readonly accessKeyId: string; readonly secretAccessKey: string; readonly region: string };

export class ApiError extends Error {
  constructor(readonly code: string, message: string, readonly status: number) {
    super(message);
  }
}

let credentials: Credentials | undefined;
let signer: SignatureV4 | undefined;
/** Server time minus ours, from each answer's Date header: SigV4 dates must be within 5 minutes. */
let clockOffsetMs = 0;

export function setCredentials(c: Credentials | undefined): void {
  credentials = c;
  signer = c?.kind === 'keys'
    ? new SignatureV4({ service: 'kms', region: c.region, credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey }, sha256: WebCryptoSha256 })
    : undefined;
}

export function hasCredentials(): boolean {
  return credentials !== undefined;
}

/** Calls `<namespace>.<operation>` (namespace TrentService for AWS operations, Keyward for ours). */
export async function call<T = Record<string, unknown>>(target: string, body: Record<string, unknown> = {}): Promise<T> {
  const payload = JSON.stringify(body);
  const headers = await authorize('POST', '/', { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target }, payload);
  return answer<T>(await fetch('/', { method: 'POST', headers, body: payload, credentials: 'omit', cache: 'no-store' }));
}

/** Calls /v1/sys/<path> (JSON, same origin). GET answers are read even when the status is 503. */
export async function sys<T = Record<string, unknown>>(method: 'GET' | 'POST', path: string, body?: Record<string, unknown>, authenticated = false): Promise<T> {
  const url = `/v1/sys/${path}`;
  const payload = method === 'POST' ? JSON.stringify(body ?? {}) : undefined;
  const base: Record<string, string> = method === 'POST' ? { 'content-type': 'application/json' } : {};
  const headers = authenticated ? await authorize(method, url, base, payload ?? '') : base;
  const res = await fetch(url, { method, headers, credentials: 'omit', cache: 'no-store', ...(payload !== undefined ? { body: payload } : {}) });
  if (method === 'GET' && (res.status === 503 || res.status === 501)) {
    noteClock(res);
    const json = await res.json() as Record<string, unknown>;
    if (json.__type === undefined) return json as T;
    throw new ApiError(String(json.__type), String(json.message ?? ''), res.status);
  }
  return answer<T>(res);
}

async function authorize(method: string, path: string, headers: Record<string, string>, payload: string): Promise<Record<string, string>> {
  if (credentials === undefined) return headers;
  if (credentials.kind === 'token') return { ...headers, authorization: `Bearer ${credentials.token}` };
  const signed = await signer!.sign(
    { method, protocol: location.protocol, hostname: location.hostname, ...(location.port !== '' ? { port: Number(location.port) } : {}), path, headers: { ...headers, host: location.host }, body: payload },
    { signingDate: new Date(Date.now() + clockOffsetMs) },
  );
  // the browser sets Host itself (to the same value): it may not be set by a script
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) if (k.toLowerCase() !== 'host') out[k] = v;
  return out;
}

function noteClock(res: Response): void {
  const date = res.headers.get('date');
  const t = date === null ? NaN : Date.parse(date);
  if (!Number.isNaN(t)) clockOffsetMs = Math.abs(t - Date.now()) > 60_000 ? t - Date.now() : 0;
}

async function answer<T>(res: Response): Promise<T> {
  noteClock(res);
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = text === '' ? {} : JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new ApiError('InternalFailure', `The server answered ${res.status} with a body that is not JSON.`, res.status);
  }
  if (!res.ok) {
    const type = String(json.__type ?? res.headers.get('x-amzn-errortype') ?? `HTTP${res.status}`);
    throw new ApiError(type.slice(type.lastIndexOf('#') + 1), String(json.message ?? json.Message ?? ''), res.status);
  }
  return json as T;
}

/** SHA-256 and HMAC-SHA256 for the SigV4 signer, from the browser's WebCrypto. */
class WebCryptoSha256 {
  private readonly parts: Uint8Array[] = [];
  constructor(private readonly secret?: string | ArrayBuffer | ArrayBufferView) {}
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.parts.push(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    const data = concat(this.parts);
    if (this.secret === undefined) return new Uint8Array(await crypto.subtle.digest('SHA-256', data));
    const key = await crypto.subtle.importKey('raw', bytes(this.secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    return new Uint8Array(await crypto.subtle.sign('HMAC', key, data));
  }
  reset(): void {
    this.parts.length = 0;
  }
}

function bytes(d: string | ArrayBuffer | ArrayBufferView): Uint8Array<ArrayBuffer> {
  if (typeof d === 'string') return new TextEncoder().encode(d);
  if (d instanceof ArrayBuffer) return new Uint8Array(d.slice(0));
  return new Uint8Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength) as ArrayBuffer);
}

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}
