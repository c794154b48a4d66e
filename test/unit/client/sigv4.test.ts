import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { NodeSha256 } from '../../../src/client/sha256.js';
import { SigV4Signer } from '../../../src/client/sigv4.js';

// The client signs its own requests (its SigV4 module loads in no time); these must be exactly
// the headers @smithy/signature-v4, which the AWS SDKs use, makes for the same request.
describe('SigV4Signer', () => {
  const cases = [
    { method: 'POST', path: '/', body: '{"KeyId":"alias/x","Plaintext":"aGk="}', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.Encrypt' } },
    { method: 'GET', path: '/v1/sys/seal-status', body: '', headers: { 'content-type': 'application/json' } },
    { method: 'POST', path: '/v1/sys/rotate-root', body: '{}', headers: { 'content-type': 'application/json', 'x-extra': '  two   spaces  ' } },
  ];
  for (const creds of [
    { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
    { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret', sessionToken: 'session/token==' },
  ]) {
    for (const c of cases) {
      it(`${c.method} ${c.path}${creds.sessionToken ? ' with a session token' : ''} matches @smithy/signature-v4`, async () => {
        const now = new Date('2026-12-06T23:10:05.123Z');
        const headers = { ...c.headers, host: '127.0.0.1:9123', ...(c.body !== '' ? { 'content-length': String(Buffer.byteLength(c.body)) } : {}) };
        const ours = new SigV4Signer(creds, 'eu-west-1', 'kms').sign({ method: c.method, path: c.path, headers, body: c.body }, now);
        const smithy = await new SignatureV4({ service: 'kms', region: 'eu-west-1', credentials: creds, sha256: NodeSha256 })
          .sign({ method: c.method, protocol: 'http:', hostname: '127.0.0.1', port: 9123, path: c.path, headers: { ...headers }, body: c.body }, { signingDate: now });
        expect(ours.authorization).toBe(smithy.headers.authorization);
        expect(ours['x-amz-date']).toBe(smithy.headers['x-amz-date']);
        expect(ours['x-amz-content-sha256']).toBe(smithy.headers['x-amz-content-sha256']);
        expect(ours['x-amz-security-token']).toBe(smithy.headers['x-amz-security-token']);
      });
    }
  }
});
