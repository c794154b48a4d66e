import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { BarrierWriter, StoreChange } from '../barrier/index.js';
import { StoreConflictError } from '../barrier/index.js';
import { hkdfSha256, randomBytes, sha256Hex, zeroize } from '../crypto/index.js';

/**
 * The checkpoint signing key has versions. Version 1 is derived from the audit key (the key every
 * installation signed with before rotation existed, so old stores and checkpoints stay as they
 * are); each rotation adds a random Ed25519 key, stored under the barrier (encrypted, path as
 * AAD) at CHECKPOINT_KEY_PREFIX + version. The newest version signs; a rotation drops the seed
 * of the version it retires (it can never sign again) and keeps its public key, so every
 * checkpoint ever signed still verifies against the published list.
 */
export const CHECKPOINT_KEY_PREFIX = 'audit-keys/checkpoint/';
const VERSION_DIGITS = 10;
/** PKCS#8 DER prefix of an Ed25519 private key (RFC 8410); the 32-byte seed follows. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const NO_SALT = Buffer.alloc(0);
const MAX_ROTATE_ATTEMPTS = 5;

export function checkpointKeyPath(version: number): string {
  return CHECKPOINT_KEY_PREFIX + String(version).padStart(VERSION_DIGITS, '0');
}

/** What is published of one version: enough for anyone to verify the checkpoints it signed. */
export interface CheckpointKeyInfo {
  readonly version: number;
  /** SHA-256 (hex) of the public key (SPKI DER): what a checkpoint's keyFingerprint names. */
  readonly fingerprint: string;
  readonly publicKey: KeyObject;
  /** When the version was made (null for version 1, which is as old as the installation). */
  readonly created: string | null;
  /** When a newer version replaced it (null for the active version). */
  readonly retired: string | null;
}

/** The public keys a verifier trusts, by fingerprint. */
export type CheckpointKeySet = ReadonlyMap<string, { readonly version: number; readonly key: KeyObject }>;

export function keySetOf(keys: readonly { readonly version: number; readonly publicKey: KeyObject }[]): CheckpointKeySet {
  return new Map(keys.map((k) => [publicKeyFingerprint(k.publicKey), { version: k.version, key: k.publicKey }]));
}

export function publicKeyFingerprint(key: KeyObject): string {
  return sha256Hex(key.export({ type: 'spki', format: 'der' }));
}

export function ed25519FromSeed(seed: Buffer): KeyObject {
  const der = Buffer.concat([ED25519_PKCS8_PREFIX, seed]);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    zeroize(der);
  }
}

/** Version 1: derived from the audit key by HKDF, as before rotation existed. */
export function derivedCheckpointKey(auditKey: Buffer): KeyObject {
  const seed = hkdfSha256(auditKey, NO_SALT, 'keyward audit signing ed25519 v1');
  try {
    return ed25519FromSeed(seed);
  } finally {
    zeroize(seed);
  }
}

/** The stored record of a version >= 2 (under the barrier). `seed` only while it is the active one. */
interface StoredVersion {
  readonly v: 1;
  readonly version: number;
  readonly publicKey: string;
  readonly created: string;
  readonly retired?: string;
  readonly seed?: string;
}

export interface CheckpointSigningKey {
  readonly version: number;
  readonly fingerprint: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** Where versions are kept: the barrier, whose records are encrypted and bound to their path. */
export type CheckpointKeyStore = Pick<BarrierWriter, 'get' | 'list'> & {
  transaction<T>(fn: (tx: BarrierWriter) => Promise<T>): Promise<T>;
  watch(listener: (change: StoreChange) => void): () => void;
};

interface Loaded {
  readonly active: CheckpointSigningKey;
  readonly versions: readonly CheckpointKeyInfo[];
}

/**
 * One unsealed process's view of the versions: loaded from the store at unlock, reloaded when the
 * store says they changed (another node or worker rotated), and rotated here on request.
 */
export class CheckpointKeyring {
  private readonly v1: CheckpointSigningKey;
  private loaded: Loaded;
  /** The load in progress (or the last one, settled); a failed one is retried by the next ready(). */
  private loading: Promise<void> | undefined;
  private failed = false;
  /** Public keys already parsed, by their stored SPKI (a reload after a rotation parses only the new one). */
  private readonly parsed = new Map<string, { publicKey: KeyObject; fingerprint: string }>();
  private readonly unwatch: (() => void) | undefined;

  constructor(auditKey: Buffer, private readonly store: CheckpointKeyStore | undefined) {
    const privateKey = derivedCheckpointKey(auditKey);
    const publicKey = createPublicKey(privateKey);
    this.v1 = { version: 1, fingerprint: publicKeyFingerprint(publicKey), privateKey, publicKey };
    this.loaded = { active: this.v1, versions: [{ version: 1, fingerprint: this.v1.fingerprint, publicKey, created: null, retired: null }] };
    if (store !== undefined) {
      this.unwatch = store.watch((change) => {
        if ('all' in change || change.keys.some((k) => k.startsWith(CHECKPOINT_KEY_PREFIX))) this.reload();
      });
      this.reload();
    }
  }

  /** The version that signs now (as far as this process has loaded). */
  get active(): CheckpointSigningKey {
    return this.loaded.active;
  }

  get versions(): readonly CheckpointKeyInfo[] {
    return this.loaded.versions;
  }

  keySet(): CheckpointKeySet {
    return keySetOf(this.loaded.versions);
  }

  /** Resolves once the versions in the store are loaded (a failed load is tried again). */
  async ready(): Promise<void> {
    if (this.failed) this.reload();
    await this.loading;
  }

  /** Makes a new version active and retires the current one; answers the new version. */
  async rotate(now: Date): Promise<CheckpointKeyInfo> {
    const store = this.store;
    if (store === undefined) throw new Error('this audit log keeps no checkpoint key versions (no store)');
    for (let attempt = 1; ; attempt++) {
      await this.ready();
      const current = this.loaded.active.version;
      const seed = randomBytes(32);
      const privateKey = ed25519FromSeed(seed);
      const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
      const record: StoredVersion = { v: 1, version: current + 1, publicKey: spki.toString('base64'), created: now.toISOString(), seed: seed.toString('base64') };
      const encoded = Buffer.from(JSON.stringify(record));
      zeroize(seed);
      try {
        await store.transaction(async (tx) => {
          if (current >= 2) {
            const old = await tx.get(checkpointKeyPath(current));
            if (old === undefined) throw new StoreConflictError(checkpointKeyPath(current));
            const parsed = parseStored(old.value, current);
            const { seed: _dropped, ...kept } = parsed;
            await tx.put(checkpointKeyPath(current), Buffer.from(JSON.stringify({ ...kept, retired: now.toISOString() })), { ifVersion: old.version });
            zeroize(old.value);
          }
          await tx.put(checkpointKeyPath(current + 1), encoded, { ifVersion: 0 });
        });
      } catch (e) {
        // another node or worker rotated at the same moment: load its version and rotate past it
        if (!(e instanceof StoreConflictError) || attempt >= MAX_ROTATE_ATTEMPTS) throw e;
        this.reload();
        continue;
      } finally {
        zeroize(encoded);
      }
      this.reload();
      await this.ready();
      const made = this.loaded.versions.find((v) => v.version === current + 1);
      if (made === undefined) throw new Error(`checkpoint key version ${current + 1} was written but is not in the store`);
      return made;
    }
  }

  destroy(): void {
    this.unwatch?.();
  }

  private reload(): void {
    const store = this.store;
    if (store === undefined) return;
    this.failed = false;
    const previous = this.loading ?? Promise.resolve();
    // loads run one after another, so the last one started is the one that counts
    this.loading = previous.catch(() => undefined).then(() => this.load(store)).then(
      (loaded) => {
        this.loaded = loaded;
      },
      (e: unknown) => {
        this.failed = true;
        throw e;
      },
    );
    // a failure is for ready() to report (the next checkpoint fails, and tries again)
    this.loading.catch(() => undefined);
  }

  private async load(store: CheckpointKeyStore): Promise<Loaded> {
    const stored: StoredVersion[] = [];
    let after: string | undefined;
    do {
      const page = await store.list(CHECKPOINT_KEY_PREFIX, { limit: 1000, ...(after !== undefined ? { after } : {}) });
      for (const e of page.entries) {
        const version = Number(e.path.slice(CHECKPOINT_KEY_PREFIX.length));
        stored.push(parseStored(e.value, version));
        zeroize(e.value);
      }
      after = page.next;
    } while (after !== undefined);
    stored.sort((a, b) => a.version - b.version);
    const first = stored[0];
    const versions: CheckpointKeyInfo[] = [{
      version: 1, fingerprint: this.v1.fingerprint, publicKey: this.v1.publicKey, created: null, retired: first?.created ?? null,
    }];
    let active = this.v1;
    stored.forEach((s, i) => {
      if (s.version !== i + 2) throw new Error(`checkpoint key version ${i + 2} is missing from the store (found ${s.version})`);
      let known = this.parsed.get(s.publicKey);
      if (known === undefined) {
        const key = createPublicKey({ key: Buffer.from(s.publicKey, 'base64'), format: 'der', type: 'spki' });
        known = { publicKey: key, fingerprint: publicKeyFingerprint(key) };
        this.parsed.set(s.publicKey, known);
      }
      const { publicKey, fingerprint } = known;
      versions.push({ version: s.version, fingerprint, publicKey, created: s.created, retired: s.retired ?? stored[i + 1]?.created ?? null });
      if (i === stored.length - 1) {
        if (s.seed === undefined) throw new Error(`the active checkpoint key version ${s.version} has no private key in the store`);
        const seed = Buffer.from(s.seed, 'base64');
        try {
          const privateKey = ed25519FromSeed(seed);
          if (publicKeyFingerprint(createPublicKey(privateKey)) !== fingerprint) throw new Error(`checkpoint key version ${s.version}: its private and public keys do not match`);
          active = { version: s.version, fingerprint, privateKey, publicKey };
        } finally {
          zeroize(seed);
        }
      }
    });
    return { active, versions };
  }
}

function parseStored(value: Buffer, version: number): StoredVersion {
  const o = JSON.parse(value.toString('utf8')) as StoredVersion;
  if (o === null || typeof o !== 'object' || o.v !== 1 || o.version !== version || typeof o.publicKey !== 'string' || typeof o.created !== 'string') {
    throw new Error(`${checkpointKeyPath(version)} is not a checkpoint key record`);
  }
  return o;
}
