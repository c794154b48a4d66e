import { CreateKeyCommand, DescribeKeyCommand } from '@aws-sdk/client-kms';
import { createHash, createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/server.js';

/**
 * SigV4 binds the operation: a request signed over `host;x-amz-date` only (as a captured
 * DescribeKey could be) cannot be replayed with another X-Amz-Target, and a credential scope
 * must name a region this server serves. The signatures here are computed by hand, step by step
 * from the SigV4 specification, so the test does not depend on what a library chooses to sign.
 */

const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
const hmac = (k: string | Buffer, s: string) => createHmac('sha256', k).update(s).digest();

interface Signed {
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Signs a POST / with exactly `signedHeaders` (lowercase names, in order), the way the spec says. */
function signByHand(url: string, creds: { accessKeyId: string; secretAccessKey: string }, opts: {
  target: string; body: string; signedHeaders: readonly string[]; region?: string; at?: Date;
}): Signed {
  const region = opts.region ?? 'us-east-1';
  const amzDate = (opts.at ?? new Date()).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = {
    host: new URL(url).host,
    'x-amz-date': amzDate,
    'x-amz-target': opts.target,
    'content-type': 'application/x-amz-json-1.1',
  };
  const canonical = [
    'POST', '/', '',
    opts.signedHeaders.map((h) => `${h}:${headers[h]!.trim()}\n`).join(''),
    opts.signedHeaders.join(';'),
    sha256(opts.body),
  ].join('\n');
  const scope = `${day}/${region}/kms/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${creds.secretAccessKey}`, day), region), 'kms'), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${opts.signedHeaders.join(';')}, Signature=${signature}`;
  return { headers, body: opts.body };
}

async function send(url: string, s: Signed, target?: string): Promise<{ status: number; body: { __type?: string; message?: string; KeyMetadata?: { KeyState?: string } } }> {
  const headers = { ...s.headers, ...(target !== undefined ? { 'x-amz-target': target } : {}) };
  delete (headers as Record<string, string>).host;
  const res = await fetch(`${url}/`, { method: 'POST', headers, body: s.body });
  return { status: res.status, body: await res.json() as never };
}

describe('SigV4 binds the operation and the region', () => {
  let t: TestServer;
  let keyId: string;
  beforeAll(async () => {
    t = await startTestServer({ config: { sigv4Regions: 'eu-west-1' } });
    keyId = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  });
  afterAll(async () => t?.close());

  const state = async () => (await t.kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState;

  it('a hand-made signature over every header is accepted (the signer is right)', async () => {
    const s = signByHand(t.url, t.admin, { target: 'TrentService.DescribeKey', body: JSON.stringify({ KeyId: keyId }), signedHeaders: ['content-type', 'host', 'x-amz-date', 'x-amz-target'] });
    const r = await send(t.url, s);
    expect(r.status).toBe(200);
    expect(r.body.KeyMetadata?.KeyState).toBe('Enabled');
  });

  it('a DescribeKey signed over host;x-amz-date only cannot be re-targeted to DisableKey', async () => {
    const s = signByHand(t.url, t.admin, { target: 'TrentService.DescribeKey', body: JSON.stringify({ KeyId: keyId }), signedHeaders: ['host', 'x-amz-date'] });
    const retargeted = await send(t.url, s, 'TrentService.DisableKey');
    expect(retargeted.status).toBe(400);
    expect(retargeted.body.__type).toBe('IncompleteSignatureException');
    expect(retargeted.body.message).toContain("'x-amz-target' must be a signed header");
    expect(await state()).toBe('Enabled');
    // the original is refused the same way: the rule is about what is signed, not about the target
    expect((await send(t.url, s)).body.__type).toBe('IncompleteSignatureException');
  });

  it('a signature that leaves out content-type is refused while x-amz-target alone is not enough', async () => {
    const s = signByHand(t.url, t.admin, { target: 'TrentService.DescribeKey', body: JSON.stringify({ KeyId: keyId }), signedHeaders: ['host', 'x-amz-date', 'x-amz-target'] });
    const r = await send(t.url, s);
    expect(r.body.__type).toBe('IncompleteSignatureException');
    expect(r.body.message).toContain("'content-type' must be a signed header");
  });

  it('a credential scope must name one of the configured regions', async () => {
    const all = ['content-type', 'host', 'x-amz-date', 'x-amz-target'];
    const body = JSON.stringify({ KeyId: keyId });
    const other = await send(t.url, signByHand(t.url, t.admin, { target: 'TrentService.DescribeKey', body, signedHeaders: all, region: 'ap-south-1' }));
    expect(other.status).toBe(400);
    expect(other.body.__type).toBe('InvalidSignatureException');
    expect(other.body.message).toContain('valid region');
    expect(other.body.message).toContain('us-east-1, eu-west-1');
    // the server's own region and the listed one are accepted
    for (const region of ['us-east-1', 'eu-west-1']) {
      expect((await send(t.url, signByHand(t.url, t.admin, { target: 'TrentService.DescribeKey', body, signedHeaders: all, region }))).status).toBe(200);
    }
  });
});

describe('sigv4AllowMinimalSignedHeaders (off by default) accepts host;x-amz-date signatures', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ config: { sigv4AllowMinimalSignedHeaders: 'true' } });
  });
  afterAll(async () => t?.close());

  it('a minimal signature is accepted when the setting is on', async () => {
    const keyId = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const s = signByHand(t.url, t.admin, { target: 'TrentService.DescribeKey', body: JSON.stringify({ KeyId: keyId }), signedHeaders: ['host', 'x-amz-date'] });
    const r = await send(t.url, s);
    expect(r.status).toBe(200);
    expect(r.body.KeyMetadata?.KeyState).toBe('Enabled');
  });
});
