import { describe, expect, it } from 'vitest';
import { JsonSecretsError, jsonWithSecrets, parseJsonWithSecrets } from '../../../src/format/json-secrets.js';

const SECRETS = new Set(['passphrase', 'shares']);
const read = (text: string) => parseJsonWithSecrets(Buffer.from(text, 'utf8'), SECRETS);

describe('parseJsonWithSecrets (secrets as bytes, never strings)', () => {
  it('gives secret members as Buffers of their UTF-8 bytes and the rest as JSON.parse would', () => {
    const text = JSON.stringify({ passphrase: 'pä\u00df "q" \\ \n \ud83d\ude00 /', shares: ['YQ==', 'Yg=='], nonce: 'n', reset: true, n: 1.5, o: { a: [1, { b: '}' }] }, x: null });
    const out = read(text);
    expect(Buffer.isBuffer(out.passphrase)).toBe(true);
    expect((out.passphrase as Buffer).toString('utf8')).toBe('pä\u00df "q" \\ \n \ud83d\ude00 /');
    expect((out.shares as Buffer[]).map((b) => b.toString())).toEqual(['YQ==', 'Yg==']);
    const { passphrase: _p, shares: _s, ...rest } = JSON.parse(text) as Record<string, unknown>;
    const { passphrase: _q, shares: _t, ...got } = out;
    expect(got).toEqual(rest);
    // \u escapes, a lone surrogate written as U+FFFD (as Buffer.from(string) does), null and an empty object
    expect((read('{"passphrase":"\\u00e9\\ud800x"}').passphrase as Buffer).toString()).toBe('é\ufffdx');
    expect(read('{"passphrase":null}')).toEqual({ passphrase: null });
    expect(read(' { } ')).toEqual({});
    // a member named like a secret that holds something else is an ordinary value (init's count of shares)
    expect(read('{"shares":5,"passphrase":1}')).toEqual({ shares: 5, passphrase: 1 });
    expect(read('{"shares":["a",1]}')).toEqual({ shares: ['a', 1] });
  });

  it('refuses what JSON.parse refuses, duplicates, and a secret that is not a string', () => {
    for (const bad of ['', '[]', '{', '{"a":}', '{"a":1,}', '{"a":1} x', '{"passphrase":"a\u0001"}', '{"passphrase":"\\x"}',
      '{"a":1,"a":2}', '{"passphrase":"a","passphrase":"b"}', "{'a':1}", '{"a":tru}']) {
      expect(() => read(bad), bad).toThrow(JsonSecretsError);
    }
    expect(() => parseJsonWithSecrets(Buffer.from([0x7b, 0x22, 0x70, 0x61, 0x73, 0x73, 0x70, 0x68, 0x72, 0x61, 0x73, 0x65, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), SECRETS)).toThrow(JsonSecretsError);
  });

  it('writes a record with its secret spliced in as bytes, which the reader gives back', () => {
    const secret = Buffer.from('abcDEF0123+/abcDEF0123+/abcDEF0123+/abcd');
    const bytes = jsonWithSecrets({ name: 'p', n: 1 }, { passphrase: secret });
    expect(JSON.parse(bytes.toString())).toEqual({ name: 'p', n: 1, passphrase: secret.toString() });
    expect((parseJsonWithSecrets(bytes, SECRETS).passphrase as Buffer).equals(secret)).toBe(true);
    expect(JSON.parse(jsonWithSecrets({}, { passphrase: secret }).toString())).toEqual({ passphrase: secret.toString() });
    expect(() => jsonWithSecrets({}, { passphrase: Buffer.from('a"b') })).toThrow(JsonSecretsError);
  });
});
