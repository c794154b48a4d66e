import { describe, expect, it } from 'vitest';
import { Barrier } from '../../../src/barrier/index.js';
import { randomBytes } from '../../../src/crypto/index.js';
import type { KeywardError } from '../../../src/errors/index.js';
import { Keyring, tenantRecords } from '../../../src/keyring/index.js';
import { MemoryStore } from '../../../src/storage/index.js';

const codeOf = async (p: Promise<unknown>) => p.then(() => 'ok', (e: KeywardError) => e.code);
const LIMITS = { max: 100, ttlMs: 60_000 };

async function keyring(now = { at: Date.now() }) {
  const store = new MemoryStore();
  const barrier = new Barrier(store);
  await barrier.initialize(randomBytes(32), new Date(), new Map([['core/seal', Buffer.from('{}')]]), async () => {});
  const ring = new Keyring(barrier, () => new Date(now.at), {
    region: 'us-east-1', metadataCache: LIMITS, materialCache: LIMITS, onError: (e) => { throw e; },
    tenantQuotas: { maxKeys: 3, maxPrincipals: 2, requestsPerSecond: 0, burst: 0 },
  });
  return { store, barrier, ring, now };
}

describe('tenants in the keyring', () => {
  it('usage of a tenant made before usage records existed is counted once, then kept by every change', async () => {
    const { store, ring } = await keyring();
    const t = await ring.tenants.create('legacy');
    await ring.keys.create(t, { description: '', tags: {} });
    await ring.principals.create(t, 'p1', 'user');
    const usagePath = tenantRecords('legacy').map((k) => ('path' in k ? k.path : '')).find((p) => p.startsWith('usage/'))!;
    await store.delete(usagePath); // as written by an older release
    expect(await ring.tenants.usage(t)).toEqual({ keys: 1, principals: 1 });
    await ring.keys.create(t, { description: '', tags: {} });
    expect(await ring.tenants.usage(t)).toEqual({ keys: 2, principals: 1 });
    expect(await store.get(usagePath)).toBeDefined();
    await ring.principals.delete('legacy', 'p1');
    expect(await ring.tenants.usage(t)).toEqual({ keys: 2, principals: 0 });
  });

  it('configured quotas apply to every tenant but default, which is unlimited unless given its own', async () => {
    const { ring } = await keyring();
    const t = await ring.tenants.create('small');
    for (let i = 0; i < 3; i++) await ring.keys.create(t, { description: '', tags: {} });
    expect(await codeOf(ring.keys.create(t, { description: '', tags: {} }))).toBe('LimitExceededException');
    await ring.principals.create(t, 'a', 'user');
    await ring.principals.create(t, 'b', 'user');
    expect(await codeOf(ring.principals.create(t, 'c', 'user'))).toBe('LimitExceededException');
    const d = await ring.tenants.create('default');
    for (let i = 0; i < 5; i++) await ring.keys.create(d, { description: '', tags: {} });
    expect(ring.tenants.quotas(d)).toEqual({ maxKeys: 0, maxPrincipals: 0, requestsPerSecond: 0, burst: 0 });
    const limited = await ring.tenants.updateQuotas('default', { maxKeys: 5 });
    expect(await codeOf(ring.keys.create(limited, { description: '', tags: {} }))).toBe('LimitExceededException');
    expect(ring.tenants.quotas(limited)).toMatchObject({ maxKeys: 5, maxPrincipals: 0 });
  });

  it('purge waits for the end of the window, takes every record tenantRecords lists and what they own, and nothing else', async () => {
    const { store, ring, now } = await keyring();
    const gone = await ring.tenants.create('gone');
    const kept = await ring.tenants.create('gone-not'); // its prefixes start with the other's id
    for (const t of [gone, kept]) {
      const k = await ring.keys.create(t, { description: '', tags: {} });
      await ring.keys.rotate(t, k.keyId, 'ON_DEMAND');
      await ring.keys.update(t, k.keyId, (key, at) => ({ ...key, rotation: { enabled: true, periodDays: 90, nextRotationAt: new Date(at.getTime() + 90 * 86_400_000).toISOString() } }));
      await ring.aliases.create(t, 'alias/a', k.keyId);
      await ring.principals.create(t, 'p', 'user');
    }
    const keysBefore = (await store.list('', { limit: 1000 })).entries.map((e) => e.key);
    await ring.tenants.scheduleDeletion('gone', 7);
    expect(await ring.tenants.purge('gone')).toBe(false); // not yet
    now.at += 8 * 86_400_000;
    expect(await ring.tenants.purge('gone')).toBe(true);
    expect(await ring.tenants.purge('gone')).toBe(false); // once
    const after = (await store.list('', { limit: 1000 })).entries.map((e) => e.key);
    const removed = keysBefore.filter((k) => !after.includes(k));
    // tenant, usage, key, 2 versions' material, alias, principal, 2 credential indexes, rotation schedule
    expect(removed).toHaveLength(10);
    expect(removed.filter((k) => k.includes('gone-not'))).toEqual([]);
    expect(await ring.tenants.find('gone')).toBeUndefined();
    expect(await ring.tenants.usage(kept)).toEqual({ keys: 1, principals: 1 });
    expect(await codeOf(ring.tenants.scheduleDeletion('default', 7))).toBe('ValidationException');
  });
});
