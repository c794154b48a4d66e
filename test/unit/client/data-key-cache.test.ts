import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DataKeyCache } from '../../../src/client/data-key-cache.js';

const key = () => randomBytes(32);
const zero = Buffer.alloc(32);

describe('DataKeyCache', () => {
  it('a key retired while leased is zeroized only when its last lease is released', () => {
    const cache = new DataKeyCache({ maxMessages: 2 });
    const k = key();
    const copy = Buffer.from(k);
    const first = cache.putForEncryption('p', k, Buffer.from('src'), 10)!;
    const second = cache.takeForEncryption('p', 10)!; // 2nd message: the limit
    expect(cache.takeForEncryption('p', 10)).toBeUndefined(); // retires the entry
    expect(k.equals(copy)).toBe(true); // still leased twice
    cache.release(first);
    expect(k.equals(copy)).toBe(true);
    cache.release(second);
    expect(k.equals(zero)).toBe(true);
  });

  it('an unleased key is zeroized as soon as it is retired, by age, bytes, eviction or clear()', () => {
    let now = 0;
    const cache = new DataKeyCache({ maxAgeMs: 100, maxBytes: 50, maxEntries: 2 }, () => now);
    const byAge = key();
    cache.release(cache.putForEncryption('age', byAge, Buffer.alloc(1), 1)!);
    now = 100;
    expect(cache.takeForEncryption('age', 1)).toBeUndefined();
    expect(byAge.equals(zero)).toBe(true);

    const byBytes = key();
    cache.release(cache.putForEncryption('bytes', byBytes, Buffer.alloc(1), 40)!);
    expect(cache.takeForEncryption('bytes', 11)).toBeUndefined();
    expect(byBytes.equals(zero)).toBe(true);
    expect(cache.putForEncryption('too-big', key(), Buffer.alloc(1), 51)).toBeUndefined();

    const [a, b, c] = [key(), key(), key()];
    cache.release(cache.putForEncryption('a', a, Buffer.alloc(1), 1)!);
    cache.release(cache.putForEncryption('b', b, Buffer.alloc(1), 1)!);
    cache.release(cache.putForEncryption('c', c, Buffer.alloc(1), 1)!); // evicts the oldest, a
    expect(a.equals(zero)).toBe(true);
    expect(cache.size.encrypt).toBe(2);

    const d = key();
    cache.release(cache.putForDecryption('wrapped', d));
    cache.clear();
    expect([b, c, d].every((x) => x.equals(zero))).toBe(true);
    expect(cache.size).toEqual({ encrypt: 0, decrypt: 0 });
  });

  it('rejects limits that are not positive or exceed the AES-GCM random-nonce bound', () => {
    expect(() => new DataKeyCache({ maxMessages: 2 ** 32 + 1 })).toThrow(/2\^32/);
    expect(() => new DataKeyCache({ maxBytes: -1 })).toThrow(/maxBytes/);
    expect(() => new DataKeyCache({ maxEntries: Number.NaN })).toThrow(/maxEntries/);
  });
});
