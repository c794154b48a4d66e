import { createHmac } from 'node:crypto';
import { constantTimeEqual, secretBuffer, sha256Hex } from '../crypto/index.js';
import { KeywardError, quote } from '../errors/index.js';

/** The parts of an HTTP request that SigV4 covers, as received. */
export interface SignedRequest {
  readonly method: string;
  /** The raw (still percent-encoded) path, without the query string. */
  readonly path: string;
  /** The raw query string without '?', or ''. */
  readonly query: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Uint8Array;
}

export interface SigV4Authorization {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

/**
 * What a signature must cover beyond the SigV4 rules, from configuration (parsed once at start).
 * By default the headers that choose the operation (x-amz-target) and how the body is read
 * (content-type) must be signed whenever the request has them, as the AWS SDKs and CLI always do:
 * otherwise a captured request could be re-targeted (DescribeKey replayed as DisableKey).
 */
export interface SigV4Policy {
  /** Regions a credential scope may name; undefined accepts any (unit tests). */
  readonly regions?: ReadonlySet<string>;
  /** Accept signatures over host and x-amz-date only (small signing libraries). Off by default. */
  readonly allowMinimalSignedHeaders?: boolean;
}

/** Headers that must be signed when present (unless the policy allows minimal signatures). */
const BOUND_HEADERS = ['x-amz-target', 'content-type'] as const;

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
/** How far the request date may be from the server's clock (AWS: 5 minutes). */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

const incomplete = (msg: string) => new KeywardError('IncompleteSignatureException', msg);

export function isSigV4(authorization: string): boolean {
  return authorization.startsWith(`${SIGV4_ALGORITHM} `);
}

/** Parses `AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=..., Signature=...`. */
export function parseAuthorization(header: string): SigV4Authorization {
  if (!isSigV4(header)) throw incomplete(`Authorization header requires the ${SIGV4_ALGORITHM} algorithm.`);
  const fields = new Map<string, string>();
  for (const part of header.slice(SIGV4_ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signed = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential === undefined || signed === undefined || signature === undefined) {
    throw incomplete("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.");
  }
  const scope = credential.split('/');
  if (scope.length !== 5 || scope[4] !== 'aws4_request') {
    throw incomplete("Credential must have the form 'ACCESSKEYID/YYYYMMDD/REGION/SERVICE/aws4_request'.");
  }
  const [accessKeyId = '', date = '', region = '', service = ''] = scope;
  if (!/^\d{8}$/.test(date) || accessKeyId === '' || region === '') throw incomplete('Credential scope is malformed.');
  if (!/^[0-9a-f]{64}$/.test(signature)) throw incomplete('Signature must be 64 lowercase hex characters.');
  const signedHeaders = signed.split(';');
  if (signedHeaders.some((h) => h === '' || h !== h.toLowerCase())) throw incomplete('SignedHeaders must be lowercase names separated by ;');
  return { accessKeyId, date, region, service, signedHeaders, signature };
}

/**
 * Caches derived signing keys per (secret, date, region, service): deriving one costs four HMACs
 * and changes once a day. Bounded: the oldest entries go first (and are zeroed). Entries are named
 * by a digest of the secret, never the secret itself: a cache key is a string the process cannot
 * wipe. The secret comes as bytes (the principal record keeps it so) and "AWS4" + secret is built
 * as bytes and zeroed: no string of the secret is ever made.
 */
export class SigningKeyCache {
  private readonly keys = new Map<string, Buffer>();
  /**
   * The secret's digest by the secret's bytes object, which a principal record keeps while it is
   * cached: one hash per record instead of one per request.
   */
  private readonly digests = new WeakMap<Uint8Array, string>();
  constructor(private readonly max = 10_000) {}

  private digestOf(secret: Uint8Array): string {
    let digest = this.digests.get(secret);
    if (digest === undefined) {
      digest = sha256Hex(secret);
      this.digests.set(secret, digest);
    }
    return digest;
  }

  get(secret: Uint8Array, date: string, region: string, service: string): Buffer {
    const id = `${date}/${region}/${service}/${this.digestOf(secret)}`;
    let key = this.keys.get(id);
    if (key === undefined) {
      const first = secretBuffer(AWS4.length + secret.length);
      AWS4.copy(first);
      first.set(secret, AWS4.length);
      const k1 = hmac(first, date);
      first.fill(0);
      const k2 = hmac(k1, region);
      const k3 = hmac(k2, service);
      key = hmac(k3, 'aws4_request');
      k1.fill(0);
      k2.fill(0);
      k3.fill(0);
      if (this.keys.size >= this.max) {
        const oldest = this.keys.keys().next().value as string;
        this.keys.get(oldest)?.fill(0);
        this.keys.delete(oldest);
      }
      this.keys.set(id, key);
    }
    return key;
  }

  clear(): void {
    for (const k of this.keys.values()) k.fill(0);
    this.keys.clear();
  }
}

/**
 * Recomputes the signature from the request and the principal's secret and compares it in
 * constant time. Checks the scope's service (`kms`) and region (the policy's), the request date
 * (within five minutes of `now`, and agreeing with the scope), that `host` and `x-amz-date` are
 * signed, and that `x-amz-target` and `content-type` are signed when present (see SigV4Policy).
 */
export function verifySigV4(req: SignedRequest, auth: SigV4Authorization, secret: Uint8Array, now: Date, cache: SigningKeyCache, policy: SigV4Policy = {}): void {
  if (auth.service !== 'kms') {
    throw new KeywardError('InvalidSignatureException', `Credential should be scoped to correct service: 'kms'.`);
  }
  if (policy.regions !== undefined && !policy.regions.has(auth.region)) {
    throw new KeywardError('InvalidSignatureException', `Credential should be scoped to a valid region, not ${quote(auth.region)}: this server accepts ${[...policy.regions].join(', ')}.`);
  }
  const signed = auth.signedHeaders;
  if (!signed.includes('host')) throw incomplete("'host' must be a signed header.");
  if (!signed.includes('x-amz-date')) throw incomplete("'x-amz-date' must be a signed header.");
  if (policy.allowMinimalSignedHeaders !== true) {
    for (const name of BOUND_HEADERS) {
      if (req.headers[name] !== undefined && !signed.includes(name)) {
        throw incomplete(`'${name}' must be a signed header: it decides what the request does (sign every header, as the AWS SDKs do).`);
      }
    }
  }
  const amzDate = headerValue(req.headers['x-amz-date']);
  const when = parseAmzDate(amzDate);
  if (when === undefined) throw incomplete('X-Amz-Date must have the form YYYYMMDDTHHMMSSZ.');
  if (Math.abs(now.getTime() - when) > MAX_CLOCK_SKEW_MS) {
    throw new KeywardError('InvalidSignatureException', `Signature expired: ${amzDate} is outside the 5-minute window around the server's time.`);
  }
  if (amzDate.slice(0, 8) !== auth.date) {
    throw new KeywardError('InvalidSignatureException', 'Credential scope date does not match X-Amz-Date.');
  }
  const payloadHash = sha256Hex(req.body);
  const declared = req.headers['x-amz-content-sha256'];
  if (declared !== undefined && headerValue(declared) !== payloadHash) {
    throw new KeywardError('InvalidSignatureException', 'The provided x-amz-content-sha256 header does not match the request body.');
  }
  let headerLines = '';
  for (const h of signed) headerLines += `${h}:${canonicalHeaderValue(req.headers[h])}\n`;
  const canonical = `${req.method.toUpperCase()}\n${canonicalPath(req.path)}\n${canonicalQuery(req.query)}\n${headerLines}\n${signedList(signed)}\n${payloadHash}`;
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const stringToSign = `${SIGV4_ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`;
  const expected = createHmac('sha256', cache.get(secret, auth.date, auth.region, auth.service)).update(stringToSign).digest();
  if (!constantTimeEqual(expected, Buffer.from(auth.signature, 'hex'))) {
    throw new KeywardError('InvalidSignatureException', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.');
  }
}

const AWS4 = Buffer.from('AWS4');

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function headerValue(v: string | string[] | undefined): string {
  return Array.isArray(v) ? v.join(',') : v ?? '';
}

/** `a;b;c` of a SignedHeaders list; a client's parsed list is shared between its requests (see authenticate). */
const signedLists = new WeakMap<readonly string[], string>();
function signedList(signed: readonly string[]): string {
  let text = signedLists.get(signed);
  if (text === undefined) {
    text = signed.join(';');
    signedLists.set(signed, text);
  }
  return text;
}

const WHITESPACE = /\s/;

function canonicalHeaderValue(v: string | string[] | undefined): string {
  // most values hold no whitespace at all: nothing to trim or fold
  if (typeof v === 'string' && !WHITESPACE.test(v)) return v;
  const values = Array.isArray(v) ? v : [v ?? ''];
  return values.map((x) => x.trim().replace(/\s+/g, ' ')).join(',');
}

/** The last X-Amz-Date read: concurrent clients sign within the same second. */
let lastAmzDate = '';
let lastAmzTime: number | undefined;

function parseAmzDate(s: string): number | undefined {
  if (s === lastAmzDate) return lastAmzTime;
  const t = parseAmzDateText(s);
  lastAmzDate = s;
  lastAmzTime = t;
  return t;
}

function parseAmzDateText(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isNaN(t) ? undefined : t;
}

/** RFC 3986 encoding as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
function escapeUri(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Non-S3 services normalise the path and encode each segment of the path as sent (double encoding). */
function canonicalPath(path: string): string {
  if (path === '/' || path === '') return '/';
  const out: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  const joined = `/${out.map(escapeUri).join('/')}`;
  return path.endsWith('/') && joined !== '/' ? `${joined}/` : joined;
}

function canonicalQuery(query: string): string {
  if (query === '') return '';
  const pairs = query.split('&').filter((p) => p !== '').map((p) => {
    const eq = p.indexOf('=');
    const k = safeDecode(eq < 0 ? p : p.slice(0, eq));
    const v = eq < 0 ? '' : safeDecode(p.slice(eq + 1));
    return [escapeUri(k), escapeUri(v)] as const;
  });
  pairs.sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw new KeywardError('InvalidSignatureException', 'The query string is not validly percent-encoded.');
  }
}
