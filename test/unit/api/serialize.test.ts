import { describe, expect, it } from 'vitest';
import { toJson } from '../../../src/api/http/serialize.js';
import { SecretText } from '../../../src/operations/index.js';

const text = (v: string | Buffer): string => (typeof v === 'string' ? v : v.toString('utf8'));

describe('toJson (AWS JSON responses)', () => {
  it('writes blobs as base64 at any depth and leaves everything else as JSON.stringify would', () => {
    const blob = Buffer.from('hello');
    const when = new Date('2026-01-02T03:04:05.000Z');
    const out = JSON.parse(text(toJson({
      CiphertextBlob: blob, KeyId: 'k', Count: 3, Flag: false, Missing: undefined, Nothing: null,
      Nested: { Plaintext: Buffer.from('wor'), At: when, List: [Buffer.from('a'), 'b', { C: Buffer.from('c') }] },
    }))) as Record<string, unknown>;
    expect(out).toEqual({
      CiphertextBlob: blob.toString('base64'), KeyId: 'k', Count: 3, Flag: false, Nothing: null,
      Nested: { Plaintext: Buffer.from('wor').toString('base64'), At: when.toISOString(), List: ['YQ==', 'b', { C: 'Yw==' }] },
    });
    expect('Missing' in out).toBe(false);
  });

  it('encodes a Uint8Array view over a larger buffer by its own bytes only', () => {
    const backing = Buffer.from('0123456789');
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 2, 3);
    expect(JSON.parse(text(toJson({ B: view })))).toEqual({ B: Buffer.from('234').toString('base64') });
  });

  it('answers a SecretText as bytes spliced into the JSON, so no string holds the secret', () => {
    const secret = Buffer.from('abcDEF0123+/abcDEF0123+/abcDEF0123+/abcd');
    const out = toJson({ Principal: { Name: 'p' }, Credentials: { SecretAccessKey: new SecretText(secret), Token: 't' }, List: [new SecretText(Buffer.from('x'))] });
    expect(Buffer.isBuffer(out)).toBe(true);
    expect(JSON.parse(text(out))).toEqual({ Principal: { Name: 'p' }, Credentials: { SecretAccessKey: secret.toString(), Token: 't' }, List: ['x'] });
    // without secrets, a plain string as before
    expect(typeof toJson({ A: 1 })).toBe('string');
    // anything else that serialises it gets the text
    expect(JSON.stringify({ s: new SecretText(Buffer.from('y')) })).toBe('{"s":"y"}');
  });
});
