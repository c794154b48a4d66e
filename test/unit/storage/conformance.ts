import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_LIST_LIMIT, StoreConflictError, type Store, type StoreChange } from '../../../src/storage/index.js';
import { eventually } from '../../helpers/wait.js';

/**
 * One conformance suite for every Store backend. A backend provides a fresh, empty store per test;
 * a backend that several processes share (SQLite file, PostgreSQL) also opens a second handle on
 * the same data, which must see the first one's commits and hear about them.
 */
export interface StoreFactory {
  open(): Promise<Store>;
  /** A second, independent handle on the store last opened (another process/node). */
  openPeer?(): Promise<Store>;
  /**
   * Whether two handles in one process may race (PostgreSQL). Not SQLite: better-sqlite3 waits for
   * the file lock synchronously, blocking the event loop the other handle needs to commit.
   */
  readonly peersRaceInProcess?: boolean;
  cleanup?(): Promise<void>;
}

const bytes = (s: string) => Buffer.from(s);

async function allKeys(store: Pick<Store, 'list'>, prefix: string, limit: number): Promise<string[]> {
  const out: string[] = [];
  for (let after: string | undefined; ;) {
    const page = await store.list(prefix, { limit, ...(after !== undefined ? { after } : {}) });
    out.push(...page.entries.map((e) => e.key));
    if (page.next === undefined) return out;
    after = page.next;
  }
}


export function storeConformance(name: string, factory: StoreFactory): void {
  describe(`Store conformance: ${name}`, () => {
    let store: Store;
    const opened: Store[] = [];
    const track = (s: Store) => { opened.push(s); return s; };

    beforeEach(async () => {
      store = track(await factory.open());
    });

    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
      await factory.cleanup?.();
    });

    it('get of a missing key is undefined; put returns increasing versions', async () => {
      expect(await store.get('a/x')).toBeUndefined();
      expect(await store.put('a/x', bytes('one'))).toBe(1);
      expect(await store.put('a/x', bytes('two'))).toBe(2);
      const e = await store.get('a/x');
      expect(e?.key).toBe('a/x');
      expect(e?.version).toBe(2);
      expect(e?.value.toString()).toBe('two');
    });

    it('keeps every byte value and the empty value exactly', async () => {
      const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await store.put('bin/all', all);
      await store.put('bin/empty', new Uint8Array(0));
      await store.put('bin/view', new Uint8Array(all.buffer, all.byteOffset + 10, 5));
      expect((await store.get('bin/all'))?.value.equals(all)).toBe(true);
      expect((await store.get('bin/empty'))?.value.length).toBe(0);
      expect([...(await store.get('bin/view'))!.value]).toEqual([10, 11, 12, 13, 14]);
    });

    it('compare-and-set: ifVersion 0 means absent, n means current version n', async () => {
      expect(await store.put('c/k', bytes('v1'), { ifVersion: 0 })).toBe(1);
      await expect(store.put('c/k', bytes('again'), { ifVersion: 0 })).rejects.toBeInstanceOf(StoreConflictError);
      await expect(store.put('c/k', bytes('stale'), { ifVersion: 2 })).rejects.toBeInstanceOf(StoreConflictError);
      expect(await store.put('c/k', bytes('v2'), { ifVersion: 1 })).toBe(2);
      await expect(store.put('c/missing', bytes('x'), { ifVersion: 1 })).rejects.toBeInstanceOf(StoreConflictError);
      expect((await store.get('c/k'))?.value.toString()).toBe('v2');
      expect(await store.get('c/missing')).toBeUndefined();
    });

    it('delete reports whether something was deleted and honours ifVersion', async () => {
      expect(await store.delete('d/none')).toBe(false);
      await store.put('d/k', bytes('x'));
      await store.put('d/k', bytes('y'));
      await expect(store.delete('d/k', { ifVersion: 1 })).rejects.toBeInstanceOf(StoreConflictError);
      expect(await store.get('d/k')).toBeDefined();
      expect(await store.delete('d/k', { ifVersion: 2 })).toBe(true);
      expect(await store.get('d/k')).toBeUndefined();
      expect(await store.delete('d/k')).toBe(false);
      // a deleted key starts over at version 1
      expect(await store.put('d/k', bytes('z'), { ifVersion: 0 })).toBe(1);
    });

    it('lists by prefix in key order, paging with after/next, never leaking sibling prefixes', async () => {
      const keys = Array.from({ length: 25 }, (_, i) => `p/${String(i).padStart(3, '0')}`);
      for (const k of [...keys].reverse()) await store.put(k, bytes(k));
      await store.put('p', bytes('exact prefix without slash'));
      await store.put('p0/x', bytes('sibling'));
      await store.put('o/x', bytes('before'));
      await store.put('q/x', bytes('after'));
      await store.put('p/~tilde', bytes('high ascii'));
      const expected = [...keys, 'p/~tilde'];
      expect(await allKeys(store, 'p/', 7)).toEqual(expected);
      expect(await allKeys(store, 'p/', 1000)).toEqual(expected);
      const first = await store.list('p/', { limit: 10 });
      expect(first.entries).toHaveLength(10);
      expect(first.next).toBe('p/009');
      expect(first.entries[0]?.value.toString()).toBe('p/000');
      const exact = await store.list('p/', { limit: expected.length });
      expect(exact.entries).toHaveLength(expected.length);
      expect(exact.next).toBeUndefined();
      expect((await store.list('none/')).entries).toEqual([]);
    });

    it('caps the page size at MAX_LIST_LIMIT and treats nonsense limits as at least 1', async () => {
      await store.transaction(async (tx) => {
        for (let i = 0; i < MAX_LIST_LIMIT + 5; i++) await tx.put(`big/${String(i).padStart(5, '0')}`, bytes('x'));
      });
      const page = await store.list('big/', { limit: MAX_LIST_LIMIT * 10 });
      expect(page.entries).toHaveLength(MAX_LIST_LIMIT);
      expect(page.next).toBeDefined();
      expect((await store.list('big/', { limit: 0 })).entries).toHaveLength(1);
    });

    it('a transaction commits every write together and sees its own writes', async () => {
      await store.put('t/old', bytes('old'));
      const seen = await store.transaction(async (tx) => {
        await tx.put('t/a', bytes('A'));
        await tx.put('t/b', bytes('B'), { ifVersion: 0 });
        await tx.delete('t/old');
        return {
          a: (await tx.get('t/a'))?.value.toString(),
          old: await tx.get('t/old'),
          listed: (await tx.list('t/')).entries.map((e) => e.key),
        };
      });
      expect(seen).toEqual({ a: 'A', old: undefined, listed: ['t/a', 't/b'] });
      expect((await store.list('t/')).entries.map((e) => e.key)).toEqual(['t/a', 't/b']);
    });

    it('a failing transaction leaves nothing behind (error thrown or a failed compare-and-set)', async () => {
      await store.put('r/keep', bytes('keep'));
      await expect(store.transaction(async (tx) => {
        await tx.put('r/new', bytes('new'));
        await tx.delete('r/keep');
        throw new Error('boom');
      })).rejects.toThrow('boom');
      await expect(store.transaction(async (tx) => {
        await tx.put('r/new', bytes('new'));
        await tx.put('r/keep', bytes('lost'), { ifVersion: 7 });
      })).rejects.toBeInstanceOf(StoreConflictError);
      expect(await store.get('r/new')).toBeUndefined();
      expect((await store.get('r/keep'))?.value.toString()).toBe('keep');
      // and the store is still usable afterwards
      expect(await store.put('r/new', bytes('later'))).toBe(1);
    });

    it('concurrent compare-and-set increments serialise: none is lost', async () => {
      await store.put('n/counter', bytes('0'));
      const increment = async () => {
        for (;;) {
          try {
            return await store.transaction(async (tx) => {
              const e = await tx.get('n/counter');
              await tx.put('n/counter', bytes(String(Number(e!.value.toString()) + 1)), { ifVersion: e!.version });
            });
          } catch (e) {
            if (!(e instanceof StoreConflictError)) throw e;
            await sleep(Math.random() * 5);
          }
        }
      };
      await Promise.all(Array.from({ length: 20 }, increment));
      const final = await store.get('n/counter');
      expect(final?.value.toString()).toBe('20');
      expect(final?.version).toBe(21);
    });

    it('a compare-and-set lost inside a transaction can be retried there after a fresh read: none is lost, other writes stay', async () => {
      // the tenant usage counter relies on this (src/keyring/usage.ts): the transaction's own
      // writes survive a lost race on the counter, which is re-read and written again
      const increment = (i: number) => store.transaction(async (tx) => {
        await tx.put(`c/item-${String(i).padStart(2, '0')}`, bytes('x'), { ifVersion: 0 });
        for (;;) {
          const e = await tx.get('c/counter');
          try {
            await tx.put('c/counter', bytes(String(Number(e?.value.toString() ?? '0') + 1)), { ifVersion: e?.version ?? 0 });
            return;
          } catch (err) {
            if (!(err instanceof StoreConflictError)) throw err;
          }
        }
      });
      await Promise.all(Array.from({ length: 20 }, (_, i) => increment(i)));
      expect((await store.get('c/counter'))?.value.toString()).toBe('20');
      expect(await allKeys(store, 'c/item-', 7)).toHaveLength(20);
    });

    it('of many concurrent creators of one key exactly one wins', async () => {
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => store.put('w/one', bytes(`writer ${i}`), { ifVersion: 0 })));
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(StoreConflictError);
      expect((await store.get('w/one'))?.version).toBe(1);
    });

    it('watch reports the keys of each committed write, never of a rolled-back one; unsubscribe stops it', async () => {
      const changes: StoreChange[] = [];
      const stop = store.watch((c) => changes.push(c));
      await store.transaction(async (tx) => {
        await tx.put('wa/a', bytes('1'));
        await tx.put('wa/b', bytes('2'));
      });
      await store.transaction(async () => undefined).catch(() => undefined);
      await expect(store.transaction(async (tx) => {
        await tx.put('wa/rolled-back', bytes('x'));
        throw new Error('no');
      })).rejects.toThrow('no');
      await store.delete('wa/a');
      const keys = () => changes.flatMap((c) => ('keys' in c ? c.keys : []));
      expect(await eventually(() => keys().includes('wa/a') && keys().includes('wa/b'), 2000)).toBe(true);
      expect(keys()).not.toContain('wa/rolled-back');
      stop();
      const before = changes.length;
      await store.put('wa/after', bytes('x'));
      await sleep(50);
      expect(changes.length).toBe(before);
    });

    it('a throwing watcher does not fail the write', async () => {
      store.watch(() => { throw new Error('listener bug'); });
      expect(await store.put('x/y', bytes('z'))).toBe(1);
    });

    it('a closed store refuses work', async () => {
      await store.close();
      await expect(store.get('a')).rejects.toThrow();
      await expect(store.put('a', bytes('b'))).rejects.toThrow();
    });

    if (factory.openPeer) {
      const openPeer = factory.openPeer.bind(factory);

      it('a second handle (another process/node) sees commits and hears of them within one second', async () => {
        const peer = track(await openPeer());
        expect(await peer.get('peer/a')).toBeUndefined(); // connected and listening
        const heard: string[] = [];
        peer.watch((c) => { if ('keys' in c) heard.push(...c.keys); });
        const started = Date.now();
        await store.put('peer/a', bytes('from first'));
        expect(await eventually(() => heard.includes('peer/a'), 1000)).toBe(true);
        expect(Date.now() - started).toBeLessThan(1000);
        expect((await peer.get('peer/a'))?.value.toString()).toBe('from first');
        // and compare-and-set holds across handles
        await expect(peer.put('peer/a', bytes('stale'), { ifVersion: 0 })).rejects.toBeInstanceOf(StoreConflictError);
        expect(await peer.put('peer/a', bytes('from peer'), { ifVersion: 1 })).toBe(2);
        expect((await store.get('peer/a'))?.value.toString()).toBe('from peer');
      });

      it.runIf(factory.peersRaceInProcess === true)('concurrent compare-and-set from two handles: exactly one of two racing updates wins', async () => {
        const peer = track(await openPeer());
        await store.put('race/k', bytes('base'));
        const results = await Promise.allSettled([
          store.put('race/k', bytes('first'), { ifVersion: 1 }),
          peer.put('race/k', bytes('second'), { ifVersion: 1 }),
        ]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(StoreConflictError);
        expect((await store.get('race/k'))?.version).toBe(2);
      });
    }
  });
}
