import { describe, expect, it } from 'vitest';
import { Barrier } from '../../../src/barrier/index.js';
import { type KeywardError } from '../../../src/errors/index.js';
import { decodeSealConfig, SealManager, SEAL_CONFIG_PATH } from '../../../src/seal/index.js';
import { MemoryStore } from '../../../src/storage/index.js';

describe('passphrase seal', () => {
  it('stores Argon2id defaults (m=64 MiB, t=3, p=1) and the salt, never the passphrase or root key', async () => {
    const store = new MemoryStore();
    const seal = new SealManager(new Barrier(store), () => new Date());
    await seal.initialize({ passphrase: 'a long enough passphrase' }, async () => {});
    const raw = (await store.get(SEAL_CONFIG_PATH))!.value;
    const config = decodeSealConfig(raw).seal;
    if (config.type !== 'passphrase') throw new Error(`expected the passphrase seal, got ${config.type}`);
    expect(config.kdf).toMatchObject({ algorithm: 'argon2id', memoryKiB: 65536, iterations: 3, parallelism: 1 });
    expect(Buffer.from(config.kdf.salt, 'base64')).toHaveLength(16);
    expect(raw.includes(Buffer.from('a long enough passphrase'))).toBe(false);
  });

  it('unseals with the passphrase; a wrong one is UnsealFailedException and stays sealed; short ones are refused', async () => {
    const store = new MemoryStore();
    const argon2 = { memoryKiB: 1024, iterations: 1, parallelism: 1 };
    const first = new SealManager(new Barrier(store), () => new Date(), { argon2 });
    await expect(first.initialize({ passphrase: 'short' }, async () => {})).rejects.toMatchObject({ code: 'ValidationException' });
    await first.initialize({ passphrase: 'the right passphrase' }, async () => {});
    expect(first.sealed).toBe(false);
    await first.seal();
    expect(first.sealed).toBe(true);

    const second = new SealManager(new Barrier(store), () => new Date(), { argon2 });
    const wrong = await second.unseal({ passphrase: 'the wrong passphrase' }).catch((e: KeywardError) => e);
    expect((wrong as KeywardError).code).toBe('UnsealFailedException');
    expect((wrong as KeywardError).message).not.toContain('wrong passphrase');
    expect((await second.status()).sealed).toBe(true);
    expect((await second.unseal({ passphrase: 'the right passphrase' })).sealed).toBe(false);
    // already unsealed: unseal is a no-op answering the status
    expect((await second.unseal({ passphrase: 'anything at all' })).sealed).toBe(false);
  });

  it('an uninitialised store cannot be unsealed', async () => {
    const seal = new SealManager(new Barrier(new MemoryStore()), () => new Date());
    await expect(seal.unseal({ passphrase: 'whatever passphrase' })).rejects.toMatchObject({ code: 'NotInitializedException' });
    expect(await seal.status()).toEqual({ initialized: false, sealed: true });
  });
});
