import { describe, expect, it } from 'vitest';
import { Barrier } from '../../../src/barrier/index.js';
import { randomBytes } from '../../../src/crypto/index.js';
import { type KeywardError } from '../../../src/errors/index.js';
import { MemoryStore } from '../../../src/storage/index.js';

const codeOf = async (p: Promise<unknown>) => p.then(() => 'ok', (e: KeywardError) => e.code);

async function fresh() {
  const store = new MemoryStore();
  const barrier = new Barrier(store);
  const rootKey = randomBytes(32);
  await barrier.initialize(Buffer.from(rootKey), new Date(), new Map([['core/seal', Buffer.from('{}')]]), async () => {});
  return { store, barrier, rootKey };
}

describe('barrier', () => {
  it('encrypts every record: the store holds no plaintext, the barrier reads it back', async () => {
    const { store, barrier } = await fresh();
    await barrier.put('keys/t/k', Buffer.from('visible only through the barrier'));
    const raw = (await store.get('keys/t/k'))!.value;
    expect(raw.includes(Buffer.from('visible'))).toBe(false);
    expect((await barrier.get('keys/t/k'))!.value.toString()).toBe('visible only through the barrier');
  });

  it('a record moved to another path, edited or swapped is an IntegrityException', async () => {
    const { store, barrier } = await fresh();
    await barrier.put('keys/t/a', Buffer.from('A'));
    await barrier.put('keys/t/b', Buffer.from('B'));
    const a = (await store.get('keys/t/a'))!.value;
    await store.put('keys/t/b', a); // swap: a's bytes under b's path
    expect(await codeOf(barrier.get('keys/t/b'))).toBe('IntegrityException');
    const edited = Buffer.from(a);
    edited[edited.length - 3]! ^= 4;
    await store.put('keys/t/a', edited);
    expect(await codeOf(barrier.get('keys/t/a'))).toBe('IntegrityException');
    await store.put('keys/t/c', Buffer.from('plain junk'));
    expect(await codeOf(barrier.get('keys/t/c'))).toBe('IntegrityException');
    expect(await codeOf(barrier.list('keys/t/'))).toBe('IntegrityException');
  });

  it('sealed (locked) refuses every read and write; the right root key unlocks, a wrong one does not', async () => {
    const { barrier, rootKey } = await fresh();
    await barrier.put('x/1', Buffer.from('one'));
    barrier.lock();
    expect(await codeOf(barrier.get('x/1'))).toBe('SealedException');
    expect(await codeOf(barrier.put('x/2', Buffer.from('two')))).toBe('SealedException');
    expect(await codeOf(barrier.unlock(randomBytes(32)))).toBe('UnsealFailedException');
    await barrier.unlock(rootKey);
    expect((await barrier.get('x/1'))!.value.toString()).toBe('one');
  });

  it('initialisation happens once, atomically with what the seed writes', async () => {
    const { store } = await fresh();
    const second = new Barrier(store);
    expect(await codeOf(second.initialize(randomBytes(32), new Date(), new Map(), async () => {}))).toBe('AlreadyInitializedException');
    expect(second.unlocked).toBe(false);

    const empty = new MemoryStore();
    const failing = new Barrier(empty);
    const failed = failing.initialize(randomBytes(32), new Date(), new Map([['core/seal', Buffer.from('{}')]]), async (tx) => {
      await tx.put('tenants/default', Buffer.from('{}'));
      throw new Error('seed failed');
    });
    await expect(failed).rejects.toThrow('seed failed');
    expect((await empty.list('')).entries).toHaveLength(0);
    expect(failing.unlocked).toBe(false);
  });

  it('reserved paths cannot be written through the barrier', async () => {
    const { barrier } = await fresh();
    await expect(barrier.put('core/keyring', Buffer.from('x'))).rejects.toThrow(/reserved/);
    await expect(barrier.putPlain('keys/x', Buffer.from('x'))).rejects.toThrow(/not a plain/);
  });
});
