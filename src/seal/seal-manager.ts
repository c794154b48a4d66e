import { randomBytes, zeroize } from '../crypto/index.js';
import { KeywardError } from '../errors/index.js';
import { SEAL_PATH_PREFIX, type Barrier, type BarrierWriter } from '../barrier/index.js';
import { DEFAULT_ARGON2, passphraseSeal, passphraseUnseal, type Argon2Cost } from './passphrase-seal.js';
import { decodeSealConfig, encodeSealConfig, type SealConfigRecord } from './seal-config.js';

export const SEAL_CONFIG_PATH = SEAL_PATH_PREFIX;

export interface SealStatus {
  readonly initialized: boolean;
  readonly sealed: boolean;
  readonly type?: string;
  readonly initializedAt?: string;
}

export interface InitRequest {
  readonly passphrase: string;
}

export interface SealManagerOptions {
  /** Argon2id cost for new passphrase seals (stored with each seal, so it can change later). */
  readonly argon2?: Argon2Cost;
}

export interface UnsealRequest {
  readonly passphrase: string;
}

type Listener = () => void;

/**
 * The seal state machine: uninitialised -> (init) -> unsealed <-> sealed. Unsealing recovers the
 * root key from the configured seal and unlocks the barrier; sealing forgets every key.
 */
export class SealManager {
  private readonly sealedListeners = new Set<Listener>();
  private readonly unsealedListeners = new Set<Listener>();
  private pending: Promise<unknown> = Promise.resolve();

  constructor(private readonly barrier: Barrier, private readonly now: () => Date, private readonly options: SealManagerOptions = {}) {}

  get sealed(): boolean {
    return !this.barrier.unlocked;
  }

  async status(): Promise<SealStatus> {
    const config = await this.readConfig();
    if (config === undefined) return { initialized: false, sealed: true };
    return { initialized: true, sealed: this.sealed, type: config.seal.type, initializedAt: config.initializedAt };
  }

  /**
   * Creates the root key, wraps it under the seal and writes the keyring together with what
   * `seed` writes (one transaction). Leaves Keyward unsealed.
   */
  initialize(request: InitRequest, seed: (tx: BarrierWriter) => Promise<void>): Promise<void> {
    return this.serial(async () => {
      if (await this.barrier.hasKeyring()) throw new KeywardError('AlreadyInitializedException', 'Keyward is already initialized.');
      const rootKey = randomBytes(32);
      try {
        const seal = await passphraseSeal(rootKey, request.passphrase, this.options.argon2 ?? DEFAULT_ARGON2);
        const record: SealConfigRecord = { formatVersion: 1, seal, initializedAt: this.now().toISOString() };
        await this.barrier.initialize(rootKey, this.now(), new Map([[SEAL_CONFIG_PATH, encodeSealConfig(record)]]), seed);
      } finally {
        zeroize(rootKey);
      }
      this.emit(this.unsealedListeners);
    });
  }

  unseal(request: UnsealRequest): Promise<SealStatus> {
    return this.serial(async () => {
      const config = await this.readConfig();
      if (config === undefined) throw new KeywardError('NotInitializedException', 'Keyward is not initialized.');
      if (this.barrier.unlocked) return this.status();
      const rootKey = await passphraseUnseal(config.seal, request.passphrase);
      try {
        await this.barrier.unlock(rootKey);
      } finally {
        zeroize(rootKey);
      }
      this.emit(this.unsealedListeners);
      return this.status();
    });
  }

  seal(): Promise<void> {
    return this.serial(async () => {
      this.barrier.lock();
      this.emit(this.sealedListeners);
    });
  }

  onSealed(listener: Listener): void {
    this.sealedListeners.add(listener);
  }

  onUnsealed(listener: Listener): void {
    this.unsealedListeners.add(listener);
  }

  private async readConfig(): Promise<SealConfigRecord | undefined> {
    const entry = await this.barrier.getPlain(SEAL_CONFIG_PATH);
    if (entry === undefined) return undefined;
    try {
      return decodeSealConfig(entry.value);
    } catch (e) {
      throw new KeywardError('IntegrityException', `The seal configuration record is unreadable: ${(e as Error).message}`);
    }
  }

  private emit(listeners: Set<Listener>): void {
    for (const l of listeners) l();
  }

  /** Init, unseal and seal never interleave (two concurrent unseals would race the barrier). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.pending.then(fn, fn);
    this.pending = run.catch(() => undefined);
    return run;
  }
}
