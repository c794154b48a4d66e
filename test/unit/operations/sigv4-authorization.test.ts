import { describe, expect, it } from 'vitest';
import { parseAuthorization } from '../../../src/authz/index.js';
import { credentialsFromAuthorization, sigV4Authorization, type Credentials } from '../../../src/operations/authenticate.js';

const request = () => ({ method: 'POST', path: '/', query: '', headers: {}, body: new Uint8Array() });
const sigv4 = (header: string) => credentialsFromAuthorization(header, request) as Extract<Credentials, { kind: 'sigv4' }>;
const outcome = (f: () => unknown) => {
  try {
    return { ok: f() };
  } catch (e) {
    return { error: (e as { code?: string }).code, message: (e as Error).message };
  }
};

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const PREFIX = 'AWS4-HMAC-SHA256 Credential=AK/20261124/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, ';

describe('sigV4Authorization (the Authorization header parsed once, its unsigned prefix once per client)', () => {
  it('answers what parseAuthorization answers, for well-formed and malformed headers alike, on first and later use', () => {
    const headers = [
      `${PREFIX}Signature=${A}`,
      `${PREFIX}Signature=${B}`, // same prefix, another signature: the signature is this request's
      `${PREFIX.replace('AK/', 'OTHER/')}Signature=${A}`,
      `AWS4-HMAC-SHA256 Credential=AK/20261124/us-east-1/kms/aws4_request,SignedHeaders=host;x-amz-date,Signature=${A}`,
      `AWS4-HMAC-SHA256 Signature=${B}, Credential=AK/20261124/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date`,
      `${PREFIX}Signature=${A}, XSignature=${B}`, // the last field is not Signature: parsed whole
      `${PREFIX}Signature=${A},XSignature=${B}`,
      `${PREFIX}Signature=${'A'.repeat(64)}`, // uppercase hex is refused
      `${PREFIX}Signature=${A.slice(1)}`,
      `AWS4-HMAC-SHA256 Credential=AK/2026/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=${A}`,
      `AWS4-HMAC-SHA256 Credential=AK/20261124/us-east-1/kms/aws4_request, SignedHeaders=Host;x-amz-date, Signature=${A}`,
      `AWS4-HMAC-SHA256 Credential=AK/20261124/us-east-1/kms/aws4_request, SignedHeaders=host;Signature=${A}`,
      `AWS4-HMAC-SHA256 Signature=${A}`,
    ];
    for (let round = 0; round < 2; round++) {
      for (const h of headers) expect(outcome(() => sigV4Authorization(sigv4(h))), h).toEqual(outcome(() => parseAuthorization(h)));
    }
  });

  it('parses each request\'s header once: the audit record reads the same object authentication used', () => {
    const c = sigv4(`${PREFIX}Signature=${A}`);
    expect(sigV4Authorization(c)).toBe(sigV4Authorization(c));
    expect(sigV4Authorization(sigv4(`${PREFIX}Signature=${B}`)).signature).toBe(B);
  });
});
