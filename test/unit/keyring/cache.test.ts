import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { BoundedCache } from '../../../src/keyring/cache.js';

describe('BoundedCache', () => {
  it('loads once for concurrent callers and serves hits from memory', async () => {
    const cache = new BoundedCache<{ v: number }>({ max: 10, ttlMs: 60_000 });
    let loads = 0;
    const load = async () => {
      loads++;
      await tick();
      return { v: 1 };
    };
    const [a, b] = await Promise.all([cache.get('k', load), cache.get('k', load)]);
    expect(a).toBe(b);
    await cache.get('k', load);
    expect(loads).toBe(1);
  });

  it('a load racing an invalidation is not cached (a stale read never outlives the change)', async () => {
    const cache = new BoundedCache<{ v: number }>({ max: 10, ttlMs: 60_000 });
    let release!: () => void;
    const slow = cache.get('k', () => new Promise((r) => { release = () => r({ v: 'old' as unknown as number }); }));
    await tick();
    cache.delete('k');
    release();
    expect((await slow)!.v).toBe('old');
    expect(cache.peek('k')).toBeUndefined();
    expect((await cache.get('k', async () => ({ v: 2 })))!.v).toBe(2);
  });

  it('is bounded, and disposes (zeroizes) what leaves only after the current turn', async () => {
    const disposed: Buffer[] = [];
    const cache = new BoundedCache<{ key: Buffer }>({ max: 2, ttlMs: 60_000 }, (x) => {
      x.key.fill(0);
      disposed.push(x.key);
    });
    const first = { key: Buffer.alloc(4, 7) };
    cache.set('a', first);
    cache.set('b', { key: Buffer.alloc(4, 8) });
    cache.set('c', { key: Buffer.alloc(4, 9) });
    expect(cache.size).toBe(2);
    expect(first.key.every((x) => x === 7)).toBe(true); // still usable in this turn
    await tick();
    expect(first.key.every((x) => x === 0)).toBe(true);
    cache.clear();
    await tick();
    expect(disposed).toHaveLength(3);
  });

  it('deletePrefix drops only matching entries', async () => {
    const cache = new BoundedCache<{ v: number }>({ max: 10, ttlMs: 60_000 });
    cache.set('t/k/1', { v: 1 });
    cache.set('t/k/2', { v: 2 });
    cache.set('t/j/1', { v: 3 });
    cache.deletePrefix('t/k/');
    expect(cache.peek('t/k/1')).toBeUndefined();
    expect(cache.peek('t/j/1')!.v).toBe(3);
  });

  it('allocates storage as entries arrive, not for the whole bound up front, and keeps the bound', () => {
    // lru-cache with `max` preallocates typed arrays of `max` slots (8+ MiB of ArrayBuffers for
    // a million); a server builds about ten of these caches at start.
    const before = process.memoryUsage().arrayBuffers;
    const cache = new BoundedCache<{ v: number }>({ max: 1_000_000, ttlMs: 60_000 });
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1024 * 1024);
    const small = new BoundedCache<{ v: number }>({ max: 3, ttlMs: 60_000 });
    for (let i = 0; i < 10; i++) small.set(`k${i}`, { v: i });
    expect(small.size).toBe(3);
    expect(small.peek('k0')).toBeUndefined();
    expect(small.peek('k9')!.v).toBe(9);
    cache.set('a', { v: 1 });
    expect(cache.peek('a')!.v).toBe(1);
  });
});
