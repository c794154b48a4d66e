import { createHmac, hash } from 'node:crypto';

export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface SignableRequest {
  readonly method: string;
  /** The path, without a query string (the client sends none). */
  readonly path: string;
  /** Lower-case names; every one is signed. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * AWS Signature Version 4 for the client's own requests (a path without a query, every header
 * signed, the payload hashed). The client used @smithy/signature-v4, whose module graph took
 * 60-170 ms to load: as long as a one-shot command's whole KMS call. A unit test checks this
 * signer's headers against @smithy/signature-v4's on the same requests.
 */
export class SigV4Signer {
  private signingKey: { readonly day: string; readonly key: Buffer } | undefined;

  constructor(
    private readonly credentials: SigningCredentials,
    private readonly region: string,
    private readonly service: string,
  ) {}

  /** The headers to add: x-amz-content-sha256, x-amz-date, x-amz-security-token (with a session token) and authorization. */
  sign(request: SignableRequest, now: Date = new Date()): Record<string, string> {
    const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const day = amzDate.slice(0, 8);
    const payloadHash = hash('sha256', request.body, 'hex');
    // x-amz-content-sha256 as @smithy/signature-v4 sends it: the server checks it against the body
    const added: Record<string, string> = { 'x-amz-content-sha256': payloadHash, 'x-amz-date': amzDate };
    if (this.credentials.sessionToken !== undefined) added['x-amz-security-token'] = this.credentials.sessionToken;
    const all: Record<string, string> = { ...request.headers, ...added };
    const names = Object.keys(all).map((n) => n.toLowerCase()).sort();
    const lower: Record<string, string> = {};
    for (const [n, v] of Object.entries(all)) lower[n.toLowerCase()] = v;
    const canonicalHeaders = names.map((n) => `${n}:${lower[n]!.trim().replace(/\s+/g, ' ')}\n`).join('');
    const signedHeaders = names.join(';');
    const canonicalRequest = [
      request.method, canonicalPath(request.path), '', canonicalHeaders, signedHeaders, payloadHash,
    ].join('\n');
    const scope = `${day}/${this.region}/${this.service}/aws4_request`;
    const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${hash('sha256', canonicalRequest, 'hex')}`;
    const signature = createHmac('sha256', this.keyFor(day)).update(stringToSign).digest('hex');
    added.authorization = `AWS4-HMAC-SHA256 Credential=${this.credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return added;
  }

  private keyFor(day: string): Buffer {
    if (this.signingKey?.day === day) return this.signingKey.key;
    const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
    const key = hmac(hmac(hmac(hmac(`AWS4${this.credentials.secretAccessKey}`, day), this.region), this.service), 'aws4_request');
    this.signingKey = { day, key };
    return key;
  }
}

/** Each segment URI-encoded (RFC 3986 unreserved characters kept), as SigV4 wants for every service but S3. */
function canonicalPath(path: string): string {
  return path.split('/').map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)).join('/');
}
