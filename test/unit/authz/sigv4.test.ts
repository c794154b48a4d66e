import { SignatureV4 } from '@smithy/signature-v4';
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseAuthorization, SigningKeyCache, verifySigV4, type SignedRequest } from '../../../src/authz/index.js';
import { type KeywardError } from '../../../src/errors/index.js';

class Sha256 {
  private readonly h;
  constructor(secret?: unknown) { this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', secret as Buffer); }
  update(d: string | Uint8Array): void { this.h.update(d); }
  async digest(): Promise<Uint8Array> { return this.h.digest(); }
  reset(): void {}
}

const creds = { accessKeyId: 'KWTESTACCESSKEY00000', secretAccessKey: 'test/secret+key==' };
const now = new Date('2026-11-24T12:00:00Z');
/** The server keeps a principal's secret as the bytes of its text, never as a string. */
const SECRET = Buffer.from(creds.secretAccessKey);

/** Signs the way the AWS SDK does (same library) and returns the request as the server sees it. */
async function signed(opts: { body?: string; path?: string; query?: Record<string, string>; service?: string; at?: Date; extraHeaders?: Record<string, string> } = {}): Promise<{ req: SignedRequest; authorization: string }> {
  const signer = new SignatureV4({ service: opts.service ?? 'kms', region: 'us-east-1', credentials: creds, sha256: Sha256 });
  const body = opts.body ?? '{"KeyId":"x"}';
  const headers = { host: '127.0.0.1:9123', 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.Encrypt', ...opts.extraHeaders };
  const r = await signer.sign({ method: 'POST', protocol: 'http:', hostname: '127.0.0.1', port: 9123, path: opts.path ?? '/', ...(opts.query ? { query: opts.query } : {}), headers, body }, { signingDate: opts.at ?? now });
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) lower[k.toLowerCase()] = v;
  const query = opts.query ? new URLSearchParams(opts.query).toString() : '';
  return { req: { method: 'POST', path: opts.path ?? '/', query, headers: lower, body: Buffer.from(body) }, authorization: lower.authorization! };
}

const codeOf = (fn: () => void): string => {
  try {
    fn();
  } catch (e) {
    return (e as KeywardError).code;
  }
  return 'ok';
};

describe('SigV4 verification', () => {
  const cache = new SigningKeyCache();
  const verify = (req: SignedRequest, authorization: string, secret: Uint8Array = SECRET, at = now) =>
    codeOf(() => verifySigV4(req, parseAuthorization(authorization), secret, at, cache));

  it('accepts what the AWS SDK signs, including paths and query strings', async () => {
    const a = await signed();
    expect(verify(a.req, a.authorization)).toBe('ok');
    const b = await signed({ path: '/v1/sys/seal', query: { b: '2', a: 'x y' } });
    expect(verify(b.req, b.authorization)).toBe('ok');
  });

  it('refuses a changed body, header, method, path, wrong secret or wrong service', async () => {
    const a = await signed();
    expect(verify({ ...a.req, body: Buffer.from('{"KeyId":"y"}') }, a.authorization)).toBe('InvalidSignatureException');
    expect(verify({ ...a.req, headers: { ...a.req.headers, 'x-amz-target': 'TrentService.Decrypt' } }, a.authorization)).toBe('InvalidSignatureException');
    expect(verify({ ...a.req, method: 'PUT' }, a.authorization)).toBe('InvalidSignatureException');
    expect(verify({ ...a.req, path: '/other' }, a.authorization)).toBe('InvalidSignatureException');
    expect(verify(a.req, a.authorization, Buffer.from('another secret'))).toBe('InvalidSignatureException');
    const s3 = await signed({ service: 's3' });
    expect(verify(s3.req, s3.authorization)).toBe('InvalidSignatureException');
  });

  it('accepts a request date within five minutes of the server clock, refuses outside', async () => {
    const a = await signed({ at: new Date(now.getTime() - 4 * 60_000) });
    expect(verify(a.req, a.authorization)).toBe('ok');
    const old = await signed({ at: new Date(now.getTime() - 6 * 60_000) });
    expect(verify(old.req, old.authorization)).toBe('InvalidSignatureException');
    const future = await signed({ at: new Date(now.getTime() + 6 * 60_000) });
    expect(verify(future.req, future.authorization)).toBe('InvalidSignatureException');
  });

  it('requires host and x-amz-date to be signed, and a declared payload hash to match', async () => {
    const a = await signed();
    const withoutHost = a.authorization.replace(/SignedHeaders=([^,]*)/, (_m, h: string) => `SignedHeaders=${h.split(';').filter((x) => x !== 'host').join(';')}`);
    expect(verify(a.req, withoutHost)).toBe('IncompleteSignatureException');
    const b = await signed({ extraHeaders: { 'x-amz-content-sha256': '0'.repeat(64) } });
    expect(verify(b.req, b.authorization)).toBe('InvalidSignatureException');
  });

  it('requires x-amz-target and content-type to be signed when present, unless the policy allows minimal signatures', async () => {
    const a = await signed();
    const drop = (name: string) => a.authorization.replace(/SignedHeaders=([^,]*)/, (_m, h: string) => `SignedHeaders=${h.split(';').filter((x) => x !== name).join(';')}`);
    for (const name of ['x-amz-target', 'content-type']) {
      expect(codeOf(() => verifySigV4(a.req, parseAuthorization(drop(name)), SECRET, now, cache))).toBe('IncompleteSignatureException');
      // with the setting on, the check moves on to the signature itself (which no longer matches here)
      expect(codeOf(() => verifySigV4(a.req, parseAuthorization(drop(name)), SECRET, now, cache, { allowMinimalSignedHeaders: true }))).toBe('InvalidSignatureException');
    }
    // a header the request does not carry need not be signed
    const { 'x-amz-target': _t, ...withoutTarget } = a.req.headers;
    expect(codeOf(() => verifySigV4({ ...a.req, headers: withoutTarget }, parseAuthorization(drop('x-amz-target')), SECRET, now, cache))).toBe('InvalidSignatureException');
  });

  it('checks the credential scope region against the policy', async () => {
    const a = await signed();
    expect(codeOf(() => verifySigV4(a.req, parseAuthorization(a.authorization), SECRET, now, cache, { regions: new Set(['us-east-1']) }))).toBe('ok');
    expect(codeOf(() => verifySigV4(a.req, parseAuthorization(a.authorization), SECRET, now, cache, { regions: new Set(['eu-west-1']) }))).toBe('InvalidSignatureException');
  });

  it('folds whitespace in signed header values as SigV4 does, and keys the signing key by the secret bytes', async () => {
    const a = await signed({ extraHeaders: { 'x-amz-meta-note': '  two  spaces\tand a tab  ' } });
    expect(a.authorization).toContain('x-amz-meta-note');
    expect(verify(a.req, a.authorization)).toBe('ok');
    expect(verify({ ...a.req, headers: { ...a.req.headers, 'x-amz-meta-note': 'two spaces and a tab' } }, a.authorization)).toBe('ok');
    expect(verify({ ...a.req, headers: { ...a.req.headers, 'x-amz-meta-note': 'two spaces and a tab!' } }, a.authorization)).toBe('InvalidSignatureException');
    // the same bytes in another object verify; other bytes of the same length do not (each object's digest is its own)
    expect(verify(a.req, a.authorization, Buffer.from(creds.secretAccessKey))).toBe('ok');
    expect(verify(a.req, a.authorization, Buffer.from(creds.secretAccessKey.toUpperCase()))).toBe('InvalidSignatureException');
    expect(verify(a.req, a.authorization)).toBe('ok');
  });

  it('parses malformed Authorization headers into IncompleteSignatureException', () => {
    for (const h of ['AWS4-HMAC-SHA256 ', 'AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=host, Signature=00', `AWS4-HMAC-SHA256 Credential=AK/20261124/us-east-1/kms/aws4_request, SignedHeaders=Host, Signature=${'0'.repeat(64)}`]) {
      expect(codeOf(() => parseAuthorization(h))).toBe('IncompleteSignatureException');
    }
    const ok = parseAuthorization(`AWS4-HMAC-SHA256 Credential=AK/20261124/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'a'.repeat(64)}`);
    expect(ok).toMatchObject({ accessKeyId: 'AK', date: '20261124', region: 'us-east-1', service: 'kms', signedHeaders: ['host', 'x-amz-date'] });
  });

  it('derives signing keys from the secret as bytes, and zeroes them when cleared', async () => {
    const own = new SigningKeyCache();
    const a = await signed();
    expect(codeOf(() => verifySigV4(a.req, parseAuthorization(a.authorization), SECRET, now, own))).toBe('ok');
    const key = own.get(SECRET, '20261124', 'us-east-1', 'kms');
    // the AWS derivation, with "AWS4" + secret as a string (what the server never builds)
    const step = (k: Buffer | string, d: string) => createHmac('sha256', k).update(d).digest();
    expect(key).toEqual(step(step(step(step(`AWS4${creds.secretAccessKey}`, '20261124'), 'us-east-1'), 'kms'), 'aws4_request'));
    own.clear();
    expect(key.every((b) => b === 0)).toBe(true);
  });
});
