import { hkdfSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hkdfSha256, randomNonce } from '../../../src/crypto/index.js';

const hex = (s: string) => Buffer.from(s, 'hex');

describe('hkdfSha256', () => {
  it('matches the RFC 5869 SHA-256 vectors (A.1 and A.3, empty salt and info)', () => {
    const ikm = Buffer.alloc(22, 0x0b);
    expect(hkdfSha256(ikm, hex('000102030405060708090a0b0c'), hex('f0f1f2f3f4f5f6f7f8f9'), 42).toString('hex'))
      .toBe('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
    expect(hkdfSha256(ikm, Buffer.alloc(0), Buffer.alloc(0), 42).toString('hex'))
      .toBe('8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8');
  });

  it("gives the same bytes as node's hkdfSync for any key, salt, info and length", () => {
    fc.assert(fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 200 }),
      (ikm, salt, info, length) => {
        expect(hkdfSha256(ikm, salt, info, length)).toEqual(Buffer.from(hkdfSync('sha256', ikm, salt, info, length)));
      },
    ), { numRuns: 300 });
    expect(hkdfSha256(Buffer.alloc(32, 1), Buffer.alloc(16, 2), 'text info')).toEqual(Buffer.from(hkdfSync('sha256', Buffer.alloc(32, 1), Buffer.alloc(16, 2), 'text info', 32)));
  });

  it('refuses lengths HKDF cannot produce', () => {
    expect(() => hkdfSha256(Buffer.alloc(32), Buffer.alloc(0), '', 0)).toThrow(RangeError);
    expect(() => hkdfSha256(Buffer.alloc(32), Buffer.alloc(0), '', 255 * 32 + 1)).toThrow(RangeError);
  });
});

describe('randomNonce (pooled random bytes for nonces and salts)', () => {
  it('never hands out the same bytes twice, across pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) seen.add(randomNonce(12).toString('hex'));
    expect(seen.size).toBe(5000);
  });

  it('returns independent buffers of the requested length, including lengths beyond the pool', () => {
    const a = randomNonce(16);
    const b = randomNonce(16);
    expect(a).toHaveLength(16);
    expect(a.equals(b)).toBe(false);
    a.fill(0);
    expect(b.equals(Buffer.alloc(16))).toBe(false);
    expect(randomNonce(1000)).toHaveLength(1000);
    // roughly uniform: a run of 64 KiB has every byte value
    const counts = new Set(Buffer.concat(Array.from({ length: 4096 }, () => randomNonce(16))));
    expect(counts.size).toBe(256);
  });
});
