import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from '../../src/client/sha256.js';

export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export type Headers = Record<string, string>;

/** One AWS KMS JSON call as load: the operation (X-Amz-Target: TrentService.<operation>) and its body. */
export interface KmsCall {
  readonly operation: string;
  readonly body: string;
}

/** A ready-to-send request: headers (signed or bearer) and body. */
export interface HttpCall {
  readonly headers: Headers;
  readonly body: string;
}

function unsignedHeaders(url: string, operation: string): Headers {
  return { host: new URL(url).host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${operation}` };
}

/**
 * Signs each call with SigV4 via @smithy/signature-v4 (the AWS SDK's signer). A signature covers
 * the body hash and the date, so each distinct body is signed once and its headers reused: the
 * server keeps no replay cache, so a repeated signature stays valid for the 5-minute clock-skew
 * window. Sign again before every load round (rounds are shorter than that).
 */
export async function signCalls(url: string, creds: SigningCredentials, calls: readonly KmsCall[], region = 'us-east-1'): Promise<HttpCall[]> {
  const signer = new SignatureV4({ credentials: creds, region, service: 'kms', sha256: NodeSha256 });
  const u = new URL(url);
  const out: HttpCall[] = [];
  for (const call of calls) {
    const req = await signer.sign({
      method: 'POST', protocol: u.protocol, hostname: u.hostname, port: Number(u.port), path: '/',
      headers: unsignedHeaders(url, call.operation), body: call.body,
    });
    out.push({ headers: req.headers as Headers, body: call.body });
  }
  return out;
}

/** The same calls with `Authorization: Bearer <token>` (nothing to sign). */
export function bearerCalls(url: string, token: string, calls: readonly KmsCall[]): HttpCall[] {
  return calls.map((c) => ({ headers: { ...unsignedHeaders(url, c.operation), authorization: `Bearer ${token}` }, body: c.body }));
}
