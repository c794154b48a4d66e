import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { initializeInstallation, openInstallation } from '../../src/server.js';
import { SQLITE_SCHEMA_VERSION, SqliteStore, type Store, type StoreChange, type StoreWriter } from '../../src/storage/index.js';
import { BENCH_PASSPHRASE, type BenchCredentials } from './keyward.js';
import { repoRoot } from './paths.js';

/**
 * A store that lets many keyring transactions share one SQLite transaction while `batch` runs:
 * seeding a million keys one commit (and fsync) at a time would take hours. Only the bench uses
 * it, to build a big store fast through the real keyring code (same records, same encryption).
 */
class BatchingStore implements Store {
  readonly kind: string;
  private open: StoreWriter | undefined;

  constructor(private readonly inner: Store) {
    this.kind = inner.kind;
  }

  async batch(work: () => Promise<void>): Promise<void> {
    await this.inner.transaction(async (tx) => {
      this.open = tx;
      try {
        await work();
      } finally {
        this.open = undefined;
      }
    });
  }

  transaction<T>(fn: (tx: StoreWriter) => Promise<T>): Promise<T> {
    return this.open ? fn(this.open) : this.inner.transaction(fn);
  }

  get(key: string) {
    return (this.open ?? this.inner).get(key);
  }

  list(prefix: string, options?: Parameters<Store['list']>[1]) {
    return (this.open ?? this.inner).list(prefix, options);
  }

  put(key: string, value: Uint8Array, options?: Parameters<Store['put']>[2]) {
    return (this.open ?? this.inner).put(key, value, options);
  }

  delete(key: string, options?: Parameters<Store['delete']>[1]) {
    return (this.open ?? this.inner).delete(key, options);
  }

  watch(listener: (change: StoreChange) => void): () => void {
    return this.inner.watch(listener);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

export interface SeededStore {
  readonly dataDir: string;
  readonly admin: BenchCredentials;
  /** The ids of the last `keepIds` keys created (all of them if fewer). */
  readonly keyIds: readonly string[];
  readonly seconds: number;
}

/**
 * Initialises a data directory in-process (default Argon2id) and creates `count` keys in the
 * admin's tenant through the keyring API, `batchSize` keys per SQLite transaction.
 */
export async function seedKeys(dataDir: string, count: number, options: { keepIds?: number; batchSize?: number; log?: (m: string) => void } = {}): Promise<SeededStore> {
  const started = performance.now();
  const config = loadConfig({ dataDir, logLevel: 'silent' }, {});
  const store = new BatchingStore(new SqliteStore(join(dataDir, 'keyward.db'), { pollIntervalMs: 0 }));
  const installation = openInstallation(config, { store });
  try {
    const creds = await initializeInstallation(installation, BENCH_PASSPHRASE);
    const tenant = await installation.keyring.tenants.require(creds.tenant);
    const keep = options.keepIds ?? count;
    const batchSize = options.batchSize ?? 2000;
    const keyIds: string[] = [];
    let lastLog = performance.now();
    for (let done = 0; done < count;) {
      const n = Math.min(batchSize, count - done);
      await store.batch(async () => {
        for (let i = 0; i < n; i++) {
          const key = await installation.keyring.keys.create(tenant, { description: 'bench seed', tags: {} });
          if (done + i >= count - keep) keyIds.push(key.keyId);
        }
      });
      done += n;
      if (options.log && performance.now() - lastLog > 10_000) {
        lastLog = performance.now();
        options.log(`seeded ${done.toLocaleString('en-US')} of ${count.toLocaleString('en-US')} keys`);
      }
    }
    return {
      dataDir,
      admin: { accessKeyId: creds.access_key_id, secretAccessKey: creds.secret_access_key, token: creds.token, region: creds.region },
      keyIds,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await installation.close();
  }
}

/**
 * A seeded store kept between runs in bench/.cache (seeding a million keys takes minutes), keyed
 * by the key count, the Keyward version and the SQLite schema version. Delete the folder (or pass
 * a new count) to seed again; KEYWARD_BENCH_CACHE moves the folder. The server runs on the cached files.
 */
export async function cachedSeed(count: number, options: { keepIds?: number; log?: (m: string) => void } = {}): Promise<SeededStore & { cached: boolean }> {
  // the version from package.json (src/version.ts cannot find it from bench/.build)
  const version = (JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  const dir = join(process.env.KEYWARD_BENCH_CACHE ?? join(repoRoot(), 'bench', '.cache'), `keys-${count}-v${version}-schema${SQLITE_SCHEMA_VERSION}`);
  const manifest = join(dir, 'seed.json');
  if (existsSync(manifest)) {
    const m = JSON.parse(readFileSync(manifest, 'utf8')) as Omit<SeededStore, 'dataDir'>;
    return { ...m, dataDir: dir, cached: true };
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const seeded = await seedKeys(dir, count, { ...options, batchSize: 10_000 });
  writeFileSync(manifest, JSON.stringify({ admin: seeded.admin, keyIds: seeded.keyIds, seconds: seeded.seconds }), { mode: 0o600 });
  return { ...seeded, cached: false };
}
