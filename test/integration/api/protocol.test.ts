import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTarget } from '../../helpers/keyward-api.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

/** Raw HTTP, for what SDKs would never send. */
async function raw(url: string, init: { target?: string; body?: string | Buffer; token?: string; method?: string; path?: string; contentType?: string }): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const headers: Record<string, string> = { 'content-type': init.contentType ?? 'application/x-amz-json-1.1' };
  if (init.target !== undefined) headers['x-amz-target'] = init.target;
  if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
  const res = await fetch(`${url}${init.path ?? '/'}`, { method: init.method ?? 'POST', headers, ...(init.body !== undefined ? { body: init.body } : {}) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) as Record<string, unknown> : {}, headers: res.headers };
}

describe('AWS JSON protocol robustness: every malformed request gets a clear AWS-shaped 4xx', () => {
  let t: TestServer;
  let keyId: string;
  beforeAll(async () => {
    t = await startTestServer({ config: { bodyLimit: 64 * 1024 } });
    keyId = String(((await callTarget(t.url, 'TrentService.CreateKey', {}, t.admin)).body.KeyMetadata as { KeyId: string }).KeyId);
  });
  afterAll(async () => { await t?.close(); });

  const cases: Array<[string, () => Parameters<typeof raw>[1], string, number]> = [
    ['bad JSON', () => ({ target: 'TrentService.Encrypt', body: '{"KeyId":', token: '' }), 'SerializationException', 400],
    ['a JSON array', () => ({ target: 'TrentService.ListKeys', body: '[1,2]', token: '' }), 'SerializationException', 400],
    ['unknown target', () => ({ target: 'TrentService.LaunchMissiles', body: '{}', token: '' }), 'UnknownOperationException', 400],
    ['missing target', () => ({ body: '{}', token: '' }), 'UnknownOperationException', 400],
    ['bad base64', () => ({ target: 'TrentService.Encrypt', body: JSON.stringify({ KeyId: 'k', Plaintext: '@@@' }), token: '' }), 'ValidationException', 400],
    ['wrong type', () => ({ target: 'TrentService.Encrypt', body: JSON.stringify({ KeyId: 42, Plaintext: 'AA==' }), token: '' }), 'ValidationException', 400],
    ['missing field', () => ({ target: 'TrentService.Encrypt', body: JSON.stringify({ Plaintext: 'AA==' }), token: '' }), 'ValidationException', 400],
    ['non-integer number', () => ({ target: 'TrentService.GenerateRandom', body: JSON.stringify({ NumberOfBytes: 3.5 }), token: '' }), 'ValidationException', 400],
    ['huge number', () => ({ target: 'TrentService.GenerateRandom', body: JSON.stringify({ NumberOfBytes: 1e308 }), token: '' }), 'ValidationException', 400],
    ['context with a non-string value', () => ({ target: 'TrentService.Encrypt', body: JSON.stringify({ KeyId: 'k', Plaintext: 'AA==', EncryptionContext: { a: 1 } }), token: '' }), 'ValidationException', 400],
    ['oversized body', () => ({ target: 'TrentService.Encrypt', body: `{"KeyId":"${'x'.repeat(70 * 1024)}"}`, token: '' }), 'RequestEntityTooLargeException', 413],
    ['unknown path', () => ({ path: '/nope', body: '{}', token: '' }), 'UnknownOperationException', 404],
    ['GET /', () => ({ method: 'GET', token: '' }), 'UnknownOperationException', 404],
  ];

  for (const [name, make, code, status] of cases) {
    it(name, async () => {
      const init = make();
      const r = await raw(t.url, { ...init, token: t.admin.token });
      expect(r.status).toBe(status);
      expect(r.json.__type).toBe(code);
      expect(typeof r.json.message).toBe('string');
      expect(r.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    });
  }

  it('validation messages name the field', async () => {
    const r = await raw(t.url, { target: 'TrentService.Encrypt', body: JSON.stringify({ KeyId: keyId }), token: t.admin.token });
    expect(r.json.message).toContain("'plaintext'"); // as AWS spells members in messages
  });

  it('the server stays up and correct after all of the above', async () => {
    const r = await callTarget(t.url, 'TrentService.Encrypt', { KeyId: keyId, Plaintext: Buffer.from('ok').toString('base64') }, t.admin);
    expect(r.status).toBe(200);
  });

  it('a bad Authorization header is an authentication error, not a 500', async () => {
    for (const authorization of ['Basic abc', 'AWS4-HMAC-SHA256 garbage', 'AWS4-HMAC-SHA256 Credential=A/B, SignedHeaders=host, Signature=zz']) {
      const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const u = new URL(t.url);
        const req = request({ host: u.hostname, port: u.port, method: 'POST', path: '/', headers: { authorization, 'x-amz-target': 'TrentService.ListKeys' } }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end('{}');
      });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body).__type).toBe('IncompleteSignatureException');
    }
  });
});
