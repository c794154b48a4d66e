import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { base64Into, SecretText } from '../../../src/format/index.js';

describe('base64Into (share text as bytes)', () => {
  it('writes the same text as Buffer base64, padding included, for every length up to 40', () => {
    for (let n = 0; n <= 40; n++) {
      const bytes = randomBytes(n);
      const out = base64Into(bytes, Buffer.alloc(4 * Math.ceil(n / 3)));
      expect(out.toString('latin1'), `length ${n}`).toBe(bytes.toString('base64'));
    }
  });

  it('a SecretText of it prints and serialises as the text', () => {
    const bytes = randomBytes(33);
    const text = new SecretText(base64Into(bytes, Buffer.alloc(44)));
    expect(String(text)).toBe(bytes.toString('base64'));
    expect(JSON.stringify({ shares: [text] })).toBe(JSON.stringify({ shares: [bytes.toString('base64')] }));
  });
});
