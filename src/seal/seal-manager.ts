import { constantTimeEqual, randomBytes, zeroize } from '../crypto/index.js';
import { KeywardError, quote } from '../errors/index.js';
import { SEAL_PATH_PREFIX, type Barrier, type BarrierStatus, type BarrierWriter } from '../barrier/index.js';
import type { SecretText } from '../format/index.js';
import type { AutoSealWrapper } from './auto-seal.js';
import { DEFAULT_ARGON2, checkPassphrase, passphraseSeal, passphraseUnseal, type Argon2Cost } from './passphrase-seal.js';
import {
  decodeSealConfig, encodeSealConfig, isAutoSeal, SEAL_TYPES, type RecoveryConfig, type SealConfig, type SealConfigRecord,
  type EscrowRecord, type SealType, type ShamirSealConfig,
} from './seal-config.js';
import { checkShareLayout, combineShares, decodeShare, splitSecret, type ShareLayout } from './shamir.js';
import { newRecovery, shamirRewrap, shamirSeal, shamirUnseal, shamirUnsealKey, verifyRecovery } from './shamir-seal.js';
import { staticSeal, staticUnseal } from './static-seal.js';

export const SEAL_CONFIG_PATH = SEAL_PATH_PREFIX;
/** Vault's defaults for recovery shares of auto-unseal seals. */
export const DEFAULT_RECOVERY: ShareLayout = { shares: 5, threshold: 3 };

export interface SealStatus {
  readonly initialized: boolean;
  readonly sealed: boolean;
  readonly type?: SealType;
  readonly initializedAt?: string;
  /** Shamir: shares made, shares needed, shares given so far on this node. */
  readonly shares?: number;
  readonly threshold?: number;
  readonly progress?: number;
  /**
   * Shamir: the nonce of the unseal in progress, answered only to whoever gives a share (never by
   * status()): every later share, and a reset, must carry it.
   */
  readonly nonce?: string;
  readonly recoveryShares?: number;
  readonly recoveryThreshold?: number;
  /** Barrier terms, encryption count and re-wrap progress (unsealed only). */
  readonly barrier?: BarrierStatus;
  /** Auto-unseal seals while sealed: retrying with backoff, or sealed by an operator (no retries until an unseal). */
  readonly autoUnseal?: 'retrying' | 'sealed-by-operator' | 'not-retrying';
  /** The escrow shares last issued: layout, when, and since when a root rotation made them useless. */
  readonly escrow?: EscrowRecord;
}

/** What a root rotation does about escrow shares issued before it. */
export interface RotateRootEscrow {
  /** Issue new escrow shares of the new root key in the same rotation. */
  readonly reissue?: ShareLayout;
  /** Rotate anyway: the old shares recover nothing afterwards (status warns until new ones are issued). */
  readonly acceptInvalidated?: boolean;
}

/** Root rotation answers: new seal shares, if any, and the re-issued escrow shares. */
export interface RotateRootSecrets extends SealSecrets {
  readonly escrowShares?: SecretText[];
}

/** The seal to create (init) or move to (rekey, migration). */
export interface SealSpec {
  readonly type: SealType;
  /** passphrase seal (bytes, from a transport that read them without a string, are zeroed by the caller) */
  readonly passphrase?: string | Buffer;
  /** shamir seal */
  readonly shares?: number;
  readonly threshold?: number;
  /** auto-unseal seals (static, pkcs11, transit): new recovery shares; default 5 of 3, or kept on migration between auto seals */
  readonly recoveryShares?: number;
  readonly recoveryThreshold?: number;
}

/** Secrets shown once: unseal shares (shamir) and recovery shares (auto-unseal seals). Never stored. */
export interface SealSecrets {
  readonly shares?: SecretText[];
  readonly recoveryShares?: SecretText[];
}

/** Proof of the current seal for rekey, migration and root rotation. */
export interface SealAuthorization {
  readonly passphrase?: string | Buffer;
  /** Unseal shares (shamir) or recovery shares (auto-unseal seals), base64 (text, or its bytes). */
  readonly shares?: ReadonlyArray<string | Buffer>;
}

/** `seal` describes the seal; `{ passphrase }` alone is the passphrase seal. */
export interface InitRequest {
  readonly seal?: SealSpec;
  readonly passphrase?: string | Buffer;
}

export interface UnsealRequest {
  /** A Buffer is zeroed by the caller after use (the server's own unseal at start). */
  readonly passphrase?: string | Buffer;
  /** One shamir share (base64, text or its bytes); progress is kept until the threshold is reached. */
  readonly share?: string | Buffer;
  /** Forget the shares given so far. */
  readonly reset?: boolean;
  /** Shamir: the nonce the first share answered; required for later shares and a reset. */
  readonly nonce?: string;
  /** The caller has no network address (the 0600 Unix socket, in process): may reset without the nonce. */
  readonly local?: boolean;
}

/** A Shamir unseal in progress is forgotten this long after its last share (an abandoned or hostile one). */
export const UNSEAL_PROGRESS_TTL_MS = 10 * 60_000;

export interface SealManagerOptions {
  /** Argon2id cost for new passphrase seals (stored with each seal, so it can change later). */
  readonly argon2?: Argon2Cost;
  /** Auto-unseal wrappers configured on this node (the composition root builds them). */
  readonly autoSeals?: { readonly pkcs11?: () => AutoSealWrapper; readonly transit?: () => AutoSealWrapper };
  /** The static seal key (KEYWARD_ROOT_KEY / --root-key-file), read when needed; a fresh Buffer each call. */
  readonly staticKey?: () => Buffer | undefined;
}

/** Why this process sealed: an operator asked (node-wide), the node told it to, its root key moved on, or it stops. */
export type SealReason = 'operator' | 'node' | 'root-replaced' | 'shutdown';
type Listener = (reason?: SealReason) => void;

/**
 * Several processes serving one node (`--workers`): an operator's seal or unseal on any of them
 * is the node's, so the seal manager tells the node and waits (bounded) until it has followed.
 */
export interface NodeCoordinator {
  /** An operator sealed this process: seal every other one and forget how to unseal. */
  sealed(): Promise<void>;
  /** An operator unsealed this process (with this passphrase, zeroed by the coordinator's caller after): unseal the others. */
  unsealed(passphrase: Buffer | undefined): Promise<void>;
  /** The seal changed (rekey, migration, recovery): what unseals the node from now on. */
  resealed(type: SealType, passphrase: Buffer | undefined): void;
  /** This process lost the root key after another one rotated it: let it unseal again. */
  rootReplaced(): void;
}

/** How the background auto-unseal retries are reported (each attempt is logged). */
export interface AutoUnsealRetry {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly onAttempt: (attempt: { readonly n: number; readonly ok: boolean; readonly error?: unknown; readonly nextMs?: number }) => void;
}

/**
 * The seal state machine: uninitialised -> (init) -> unsealed <-> sealed. Unsealing recovers the
 * root key from the configured seal and unlocks the barrier; sealing forgets every key. Rekey and
 * seal migration re-wrap only the root key; rotateRoot replaces it and re-wraps only the keyring.
 */
export class SealManager {
  private readonly sealedListeners = new Set<Listener>();
  private readonly unsealedListeners = new Set<Listener>();
  private pending: Promise<unknown> = Promise.resolve();
  /** Shamir shares given so far on this node (per node, as in Vault). */
  private progress: Buffer[] = [];
  /** The nonce of the shamir unseal in progress, and when its last share came. */
  private progressNonce: string | undefined;
  private progressAt = 0;
  /** The seal type last read or written: health answers from it without a store round trip. */
  private knownType: SealType | undefined;
  private probing: Promise<SealType | undefined> | undefined;
  private coordinator: NodeCoordinator | undefined;
  /** Sealed by an operator (here or on another process of the node): nothing unseals but an operator. */
  private operatorSealed = false;
  private retry: { timer?: NodeJS.Timeout; stopped: boolean } | undefined;

  constructor(private readonly barrier: Barrier, private readonly now: () => Date, private readonly options: SealManagerOptions = {}) {}

  get sealed(): boolean {
    return !this.barrier.unlocked;
  }

  async status(): Promise<SealStatus> {
    const config = await this.readConfig();
    if (config === undefined) return { initialized: false, sealed: true };
    const seal = config.seal;
    return {
      initialized: true,
      sealed: this.sealed,
      type: seal.type,
      initializedAt: config.initializedAt,
      ...(seal.type === 'shamir' ? { shares: seal.shares, threshold: seal.threshold, progress: this.progressNow() } : {}),
      ...(isAutoSeal(seal) ? { recoveryShares: seal.recovery.shares, recoveryThreshold: seal.recovery.threshold } : {}),
      ...(this.barrier.unlocked ? { barrier: this.barrier.status() } : {}),
      ...(config.escrow !== undefined ? { escrow: config.escrow } : {}),
      ...(isAutoSeal(seal) && this.sealed ? { autoUnseal: this.retryingAutoUnseal ? 'retrying' as const : this.operatorSealed ? 'sealed-by-operator' as const : 'not-retrying' as const } : {}),
    };
  }

  /** The stored seal type, or undefined before init (readable while sealed). */
  async sealType(): Promise<SealType | undefined> {
    return (await this.readConfig())?.seal.type;
  }

  /**
   * Initialised, sealed and seal type from what this node already knows (for health checks). The
   * store is read only while the installation is not known to exist yet, and waited for at most
   * `budgetMs`: undefined when it did not answer in time (or failed).
   */
  async knownStatus(budgetMs: number): Promise<{ initialized: boolean; sealed: boolean; type?: SealType } | undefined> {
    if (this.knownType !== undefined) return { initialized: true, sealed: this.sealed, type: this.knownType };
    this.probing ??= this.readConfig().then((c) => c?.seal.type).finally(() => { this.probing = undefined; });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), budgetMs); });
    try {
      const type = await Promise.race([this.probing, late]);
      if (type === 'late') return undefined;
      return { initialized: type !== undefined, sealed: this.sealed, ...(type !== undefined ? { type } : {}) };
    } catch {
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Creates the root key, wraps it under the seal and writes the keyring together with what
   * `seed` writes (one transaction). Leaves Keyward unsealed. Returns the shares to show once.
   */
  initialize(request: InitRequest, seed: (tx: BarrierWriter) => Promise<void>): Promise<SealSecrets> {
    return this.serial(async () => {
      const spec: SealSpec = request.seal ?? { type: 'passphrase', passphrase: request.passphrase ?? '' };
      checkSpec(spec);
      if (await this.barrier.hasKeyring()) throw new KeywardError('AlreadyInitializedException', 'Keyward is already initialized.');
      const rootKey = randomBytes(32);
      let secrets: SealSecrets;
      try {
        const made = await this.makeSeal(rootKey, spec, undefined);
        secrets = made.secrets;
        const at = this.now().toISOString();
        const record: SealConfigRecord = { formatVersion: 1, seal: made.seal, initializedAt: at };
        await this.barrier.initialize(rootKey, this.now(), new Map([[SEAL_CONFIG_PATH, encodeSealConfig(record)]]), seed);
        this.remember(record);
      } finally {
        zeroize(rootKey);
      }
      this.resetProgress();
      this.emit(this.unsealedListeners);
      return secrets;
    });
  }

  /**
   * `origin` 'operator' (the Unseal operation, the server's own unseal at start) unseals the whole
   * node when several processes serve it; 'node' is one process following the node.
   */
  unseal(request: UnsealRequest = {}, origin: 'operator' | 'node' = 'operator', cancelled?: () => boolean): Promise<SealStatus> {
    return this.serial(async () => {
      // a retry queued behind an operator's seal must not undo it
      if (cancelled?.()) return this.status();
      const config = await this.readConfig();
      if (config === undefined) throw new KeywardError('NotInitializedException', 'Keyward is not initialized.');
      this.expireProgress();
      if (request.reset) {
        if (this.progress.length > 0 && request.local !== true) this.requireNonce(request.nonce);
        this.resetProgress();
        return this.status();
      }
      if (this.barrier.unlocked) return this.status();
      const rootKey = await this.recoverRootKey(config.seal, request);
      if (rootKey === undefined) return { ...(await this.status()), ...(this.progressNonce !== undefined ? { nonce: this.progressNonce } : {}) };
      try {
        await this.barrier.unlock(rootKey);
      } finally {
        zeroize(rootKey);
      }
      this.stopAutoUnseal();
      this.operatorSealed = false;
      this.emit(this.unsealedListeners);
      if (origin === 'operator' && this.coordinator !== undefined) {
        const secret = typeof request.passphrase === 'string' ? Buffer.from(request.passphrase, 'utf8') : request.passphrase;
        try {
          await this.coordinator.unsealed(secret);
        } finally {
          if (typeof request.passphrase === 'string') zeroize(secret);
        }
      }
      return this.status();
    });
  }

  /**
   * Forgets every key. An operator's seal also stops auto-unseal retries and, with several
   * processes on one node, seals all of them before it answers.
   */
  seal(reason: SealReason = 'node'): Promise<void> {
    return this.serial(async () => {
      this.stopAutoUnseal();
      if (reason === 'operator' || reason === 'node') this.operatorSealed = true;
      this.resetProgress();
      this.barrier.lock();
      this.emit(this.sealedListeners, reason);
      if (reason === 'operator') await this.coordinator?.sealed();
      if (reason === 'root-replaced') this.coordinator?.rootReplaced();
    });
  }

  /** Joins a node of several processes (see NodeCoordinator). */
  coordinate(coordinator: NodeCoordinator): void {
    this.coordinator = coordinator;
  }

  /**
   * Auto-unseal seals: tries to unseal now and, while that fails, again after `initialMs`,
   * doubling up to `maxMs`. Secrets given as files are read again on every attempt (fixing the
   * file fixes the node). An operator's seal, an unseal by other means or shutdown stops it.
   */
  autoUnseal(options: AutoUnsealRetry): Promise<{ ok: boolean; error?: unknown }> {
    this.stopAutoUnseal();
    const state: { timer?: NodeJS.Timeout; stopped: boolean } = { stopped: false };
    this.retry = state;
    let n = 0;
    let delay = options.initialMs;
    let first: ((r: { ok: boolean; error?: unknown }) => void) | undefined;
    const firstResult = new Promise<{ ok: boolean; error?: unknown }>((resolve) => { first = resolve; });
    const attempt = () => {
      if (state.stopped) return;
      n++;
      this.unseal({}, 'node', () => state.stopped).then(() => {
        first?.({ ok: !this.sealed });
        first = undefined;
        if (this.sealed) return; // cancelled by a seal
        // the unseal itself ended the retries (stopAutoUnseal): report the attempt that did it
        state.stopped = true;
        if (this.retry === state) this.retry = undefined;
        options.onAttempt({ n, ok: true });
      }, (error: unknown) => {
        first?.({ ok: false, error });
        first = undefined;
        if (state.stopped) return;
        if (options.maxMs <= 0) {
          // retries are off: one attempt, as an operator's `keyward unseal` would make
          state.stopped = true;
          if (this.retry === state) this.retry = undefined;
          options.onAttempt({ n, ok: false, error });
          return;
        }
        const nextMs = delay;
        delay = Math.min(delay * 2, options.maxMs);
        options.onAttempt({ n, ok: false, error, nextMs });
        state.timer = setTimeout(attempt, nextMs);
        state.timer.unref();
      });
    };
    attempt();
    return firstResult;
  }

  /** Whether auto-unseal retries are running (seal status shows it). */
  get retryingAutoUnseal(): boolean {
    return this.retry !== undefined && !this.retry.stopped;
  }

  stopAutoUnseal(): void {
    if (this.retry === undefined) return;
    this.retry.stopped = true;
    clearTimeout(this.retry.timer);
    this.retry = undefined;
  }

  /**
   * Rekey / seal migration: proves the current seal with `auth`, then wraps the same root key
   * under the seal `target` describes. One compare-and-set write of `core/seal`; no data touched.
   */
  rekey(auth: SealAuthorization, target: SealSpec): Promise<SealSecrets> {
    return this.serial(async () => {
      checkSpec(target);
      const { record, version } = await this.requireUnsealedConfig();
      await this.authorize(record.seal, auth);
      return this.barrier.withRootKey(async (rootKey) => {
        const made = await this.makeSeal(rootKey, target, record.seal);
        const next: SealConfigRecord = { ...record, seal: made.seal, changedAt: this.now().toISOString() };
        try {
          await this.barrier.putPlain(SEAL_CONFIG_PATH, encodeSealConfig(next), { ifVersion: version });
        } catch (e) {
          throw conflictOr(e);
        }
        this.remember(next);
        this.tellNodeResealed(target);
        return made.secrets;
      });
    });
  }

  private tellNodeResealed(target: SealSpec): void {
    if (this.coordinator === undefined) return;
    const given = target.passphrase ?? '';
    const secret = target.type !== 'passphrase' ? undefined : typeof given === 'string' ? Buffer.from(given, 'utf8') : Buffer.from(given);
    try {
      this.coordinator.resealed(target.type, secret);
    } finally {
      zeroize(secret);
    }
  }

  /**
   * Replaces the root key itself: a new random root key seals the keyring and is wrapped under
   * the current seal (or `target`), both written in one transaction.
   */
  rotateRoot(auth: SealAuthorization, target?: SealSpec, escrow: RotateRootEscrow = {}): Promise<RotateRootSecrets> {
    return this.serial(async () => {
      const { record, version } = await this.requireUnsealedConfig();
      const current = record.seal;
      const spec = target ?? sameSeal(current, auth);
      checkSpec(spec);
      if (escrow.reissue !== undefined) checkShareLayout(escrow.reissue, 'escrow shares');
      // escrow shares of the old root key recover nothing afterwards: re-issue them or say so
      const live = record.escrow !== undefined && record.escrow.staleSince === undefined;
      if (live && escrow.reissue === undefined && escrow.acceptInvalidated !== true) {
        const e = record.escrow!;
        throw new KeywardError('ValidationException', `Escrow shares were issued at ${e.issuedAt} (${e.threshold} of ${e.shares}); rotating the root key makes them recover nothing. Give escrow_shares and escrow_threshold to re-issue them in this rotation, or i_understand_escrow_is_invalidated: true to rotate anyway.`);
      }
      // shamir without a new layout: keep the operators' shares (same unseal key, new root key)
      const keepShares = target === undefined && current.type === 'shamir';
      const unsealKey = keepShares ? await this.shamirKeyFrom(current, auth) : undefined;
      if (!keepShares) await this.authorize(current, auth);
      const newRoot = randomBytes(32);
      try {
        const made = unsealKey !== undefined && current.type === 'shamir'
          ? { seal: shamirRewrap(current, unsealKey, newRoot), secrets: {} }
          : await this.makeSeal(newRoot, spec, current);
        const at = this.now().toISOString();
        const escrowShares = escrow.reissue !== undefined ? await splitSecret(newRoot, escrow.reissue) : undefined;
        const nextEscrow: EscrowRecord | undefined = escrow.reissue !== undefined
          ? { issuedAt: at, shares: escrow.reissue.shares, threshold: escrow.reissue.threshold }
          : live ? { ...record.escrow!, staleSince: at } : record.escrow;
        const next: SealConfigRecord = { ...withoutEscrow(record), seal: made.seal, changedAt: at, ...(nextEscrow !== undefined ? { escrow: nextEscrow } : {}) };
        try {
          await this.barrier.replaceRootKey(newRoot, new Map([[SEAL_CONFIG_PATH, { value: encodeSealConfig(next), ifVersion: version }]]));
        } catch (e) {
          throw conflictOr(e);
        }
        this.remember(next);
        return { ...made.secrets, ...(escrowShares !== undefined ? { escrowShares } : {}) };
      } finally {
        zeroize(newRoot, unsealKey);
      }
    });
  }

  /** Adds a barrier term; older records move to it in the background (progress in status). */
  async rotateBarrier(): Promise<SealStatus> {
    if (!this.barrier.unlocked) throw new KeywardError('SealedException', 'Keyward is sealed.');
    await this.barrier.rotate();
    return this.status();
  }

  /**
   * Escrow: the root key itself split into shares for disaster recovery (a store backup plus
   * `threshold` of these recovers the installation whatever happened to the seal). Authorised
   * like rekey; the shares are answered once and stored nowhere.
   */
  escrow(auth: SealAuthorization, layout: ShareLayout): Promise<SecretText[]> {
    return this.serial(async () => {
      checkShareLayout(layout, 'escrow shares');
      const { record, version } = await this.requireUnsealedConfig();
      await this.authorize(record.seal, auth);
      // the layout is recorded (not the shares): status shows it, recover says how many are needed,
      // and a root rotation knows these shares exist
      const next: SealConfigRecord = { ...record, escrow: { issuedAt: this.now().toISOString(), shares: layout.shares, threshold: layout.threshold } };
      return this.barrier.withRootKey(async (rootKey) => {
        const shares = await splitSecret(rootKey, layout);
        try {
          await this.barrier.putPlain(SEAL_CONFIG_PATH, encodeSealConfig(next), { ifVersion: version });
        } catch (e) {
          throw conflictOr(e);
        }
        this.remember(next);
        return shares;
      });
    });
  }

  /**
   * Recovery from escrow shares (offline, on a restored store): the combined root key must open
   * the keyring; then it is wrapped under `target`, replacing whatever seal the store had.
   */
  recover(escrowShares: readonly string[], target: SealSpec): Promise<SealSecrets> {
    return this.serial(async () => {
      checkSpec(target);
      const entry = await this.barrier.getPlain(SEAL_CONFIG_PATH);
      if (entry === undefined) throw new KeywardError('NotInitializedException', 'This store holds no Keyward installation.');
      const record = decode(entry.value);
      const needed = record.escrow?.threshold;
      if (needed !== undefined && escrowShares.length < needed) {
        throw new KeywardError('ValidationException', `Recovery needs ${needed} escrow shares (issued ${record.escrow!.threshold} of ${record.escrow!.shares} at ${record.escrow!.issuedAt}); got ${escrowShares.length}.`);
      }
      const shares = escrowShares.map((s, i) => decodeShare(s, `escrow share ${i + 1}`));
      const rootKey = await combineShares(shares);
      zeroize(...shares);
      try {
        try {
          await this.barrier.unlock(rootKey);
        } catch (e) {
          if ((e as KeywardError).code === 'UnsealFailedException') {
            const stale = record.escrow?.staleSince !== undefined ? ` The escrow shares issued at ${record.escrow.issuedAt} were invalidated by a root rotation at ${record.escrow.staleSince}: shares from before it recover nothing.` : '';
            throw new KeywardError('UnsealFailedException', `The escrow shares do not combine to this installation's root key (the keyring does not open): a share is wrong, missing or from another installation.${stale}`);
          }
          throw e;
        }
        const made = await this.makeSeal(rootKey, target, undefined);
        const next: SealConfigRecord = { ...record, seal: made.seal, changedAt: this.now().toISOString() };
        try {
          await this.barrier.putPlain(SEAL_CONFIG_PATH, encodeSealConfig(next), { ifVersion: entry.version });
        } catch (e) {
          this.barrier.lock();
          throw conflictOr(e);
        }
        this.remember(next);
        this.resetProgress();
        this.emit(this.unsealedListeners);
        return made.secrets;
      } finally {
        zeroize(rootKey);
      }
    });
  }

  /** Checks a proof of the current seal without changing anything. */
  verify(auth: SealAuthorization): Promise<void> {
    return this.serial(async () => {
      const { record } = await this.requireUnsealedConfig();
      await this.authorize(record.seal, auth);
    });
  }

  onSealed(listener: Listener): void {
    this.sealedListeners.add(listener);
  }

  onUnsealed(listener: Listener): void {
    this.unsealedListeners.add(listener);
  }

  private async recoverRootKey(seal: SealConfig, request: UnsealRequest): Promise<Buffer | undefined> {
    switch (seal.type) {
      case 'passphrase':
        if (request.passphrase === undefined) throw new KeywardError('ValidationException', 'This installation uses the passphrase seal: give `passphrase`.');
        return passphraseUnseal(seal, request.passphrase);
      case 'shamir': {
        if (request.share === undefined) throw new KeywardError('ValidationException', `This installation uses the shamir seal: give one \`share\` at a time (${this.progress.length}/${seal.threshold} so far).`);
        if (this.progress.length > 0) this.requireNonce(request.nonce);
        const share = decodeShare(request.share);
        if (this.progress.some((s) => s.equals(share))) {
          zeroize(share);
          throw new KeywardError('ValidationException', 'This share was already given; each operator gives a different share.');
        }
        if (this.progress.length === 0) this.progressNonce = randomBytes(16).toString('hex');
        this.progress.push(share);
        this.progressAt = this.now().getTime();
        if (this.progress.length < seal.threshold) return undefined;
        const shares = this.progress;
        this.progress = [];
        this.progressNonce = undefined;
        try {
          return await shamirUnseal(seal, shares);
        } finally {
          zeroize(...shares);
        }
      }
      case 'static':
        return staticUnseal(seal, this.requireStaticKey());
      case 'pkcs11':
      case 'transit':
        return this.requireAutoSeal(seal.type).unwrap(seal.wrappedRootKey);
    }
  }

  private async makeSeal(rootKey: Buffer, spec: SealSpec, previous: SealConfig | undefined): Promise<{ seal: SealConfig; secrets: SealSecrets }> {
    switch (spec.type) {
      case 'passphrase':
        return { seal: await passphraseSeal(rootKey, spec.passphrase ?? '', this.options.argon2 ?? DEFAULT_ARGON2), secrets: {} };
      case 'shamir': {
        const made = await shamirSeal(rootKey, { shares: spec.shares ?? 0, threshold: spec.threshold ?? 0 });
        return { seal: made.config, secrets: { shares: made.shares } };
      }
      case 'static':
      case 'pkcs11':
      case 'transit': {
        // wrap first: a missing HSM key or unreachable KMS fails before anything is decided
        const wrapper = spec.type === 'static' ? undefined : this.requireAutoSeal(spec.type);
        const staticKey = spec.type === 'static' ? this.requireStaticKey() : undefined;
        const wrapped = wrapper === undefined ? undefined : await wrapper.wrap(rootKey);
        const { recovery, recoveryShares } = await this.recoveryFor(spec, previous);
        const secrets: SealSecrets = recoveryShares === undefined ? {} : { recoveryShares };
        if (staticKey !== undefined) {
          try {
            return { seal: staticSeal(rootKey, staticKey, recovery), secrets };
          } finally {
            zeroize(staticKey);
          }
        }
        const params = wrapper!.describe();
        const seal: SealConfig = spec.type === 'pkcs11'
          ? { type: 'pkcs11', keyLabel: params.keyLabel ?? '', wrappedRootKey: wrapped!, recovery }
          : { type: 'transit', endpoint: params.endpoint ?? '', keyId: params.keyId ?? '', wrappedRootKey: wrapped!, recovery };
        return { seal, secrets };
      }
    }
  }

  /** New recovery shares unless migrating between auto-unseal seals without asking for new ones. */
  private async recoveryFor(spec: SealSpec, previous: SealConfig | undefined): Promise<{ recovery: RecoveryConfig; recoveryShares?: SecretText[] }> {
    const asked = spec.recoveryShares !== undefined || spec.recoveryThreshold !== undefined;
    if (!asked && previous !== undefined && isAutoSeal(previous)) return { recovery: previous.recovery };
    const made = await newRecovery(recoveryLayout(spec));
    return { recovery: made.config, recoveryShares: made.shares };
  }

  private async authorize(seal: SealConfig, auth: SealAuthorization): Promise<void> {
    if (seal.type === 'passphrase') {
      if (auth.passphrase === undefined) throw new KeywardError('ValidationException', 'The current seal is a passphrase: give the current `passphrase` to authorise this.');
      zeroize(await passphraseUnseal(seal, auth.passphrase));
      return;
    }
    const threshold = seal.type === 'shamir' ? seal.threshold : seal.recovery.threshold;
    const what = seal.type === 'shamir' ? 'unseal shares' : 'recovery shares';
    const given = auth.shares ?? [];
    if (given.length !== threshold) {
      throw new KeywardError('ValidationException', `The current seal is ${seal.type}: give ${threshold} ${what} (\`shares\`) to authorise this, got ${given.length}.`);
    }
    const shares = given.map((s, i) => decodeShare(s, `shares[${i}]`));
    try {
      if (seal.type === 'shamir') zeroize(await shamirUnseal(seal, shares));
      else await verifyRecovery(seal.recovery, shares);
    } finally {
      zeroize(...shares);
    }
  }

  private async shamirKeyFrom(seal: ShamirSealConfig, auth: SealAuthorization): Promise<Buffer> {
    const given = auth.shares ?? [];
    if (given.length !== seal.threshold) {
      throw new KeywardError('ValidationException', `The current seal is shamir: give ${seal.threshold} unseal shares (\`shares\`) to authorise this, got ${given.length}.`);
    }
    const shares = given.map((s, i) => decodeShare(s, `shares[${i}]`));
    try {
      return await shamirUnsealKey(seal, shares);
    } finally {
      zeroize(...shares);
    }
  }

  private requireAutoSeal(type: 'pkcs11' | 'transit'): AutoSealWrapper {
    const make = this.options.autoSeals?.[type];
    if (make === undefined) {
      const what = type === 'pkcs11' ? 'pkcs11Module, pkcs11TokenLabel (or pkcs11Slot), pkcs11KeyLabel and a PIN' : 'transitEndpoint, transitKeyId and transit credentials';
      throw new KeywardError('SealUnavailableException', `The ${type} seal is not configured on this node: set ${what}. Keyward stays sealed.`);
    }
    return make();
  }

  private requireStaticKey(): Buffer {
    const key = this.options.staticKey?.();
    if (key === undefined) throw new KeywardError('SealUnavailableException', 'The static seal needs its key: set KEYWARD_ROOT_KEY (64 hex characters) or --root-key-file. Keyward stays sealed.');
    return key;
  }

  private async requireUnsealedConfig(): Promise<{ record: SealConfigRecord; version: number }> {
    const entry = await this.barrier.getPlain(SEAL_CONFIG_PATH);
    if (entry === undefined) throw new KeywardError('NotInitializedException', 'Keyward is not initialized.');
    if (!this.barrier.unlocked) throw new KeywardError('SealedException', 'Keyward is sealed.');
    return { record: this.remember(decode(entry.value)), version: entry.version };
  }

  private resetProgress(): void {
    zeroize(...this.progress);
    this.progress = [];
    this.progressNonce = undefined;
  }

  private progressNow(): number {
    this.expireProgress();
    return this.progress.length;
  }

  private expireProgress(): void {
    if (this.progress.length > 0 && this.now().getTime() - this.progressAt > UNSEAL_PROGRESS_TTL_MS) this.resetProgress();
  }

  /** Later shares and a reset must prove they belong to the unseal in progress (as Vault's nonce). */
  private requireNonce(nonce: string | undefined): void {
    const expected = this.progressNonce ?? '';
    if (nonce === undefined || !constantTimeEqual(Buffer.from(nonce), Buffer.from(expected))) {
      throw new KeywardError('ValidationException', `An unseal is in progress (${this.progress.length} share(s) given): give its \`nonce\` (answered to whoever gave the first share) with every further share and with reset. It is forgotten ${UNSEAL_PROGRESS_TTL_MS / 60_000} minutes after its last share.`);
    }
  }

  private async readConfig(): Promise<SealConfigRecord | undefined> {
    const entry = await this.barrier.getPlain(SEAL_CONFIG_PATH);
    return entry === undefined ? undefined : this.remember(decode(entry.value));
  }

  private remember(record: SealConfigRecord): SealConfigRecord {
    this.knownType = record.seal.type;
    return record;
  }

  private emit(listeners: Set<Listener>, reason?: SealReason): void {
    for (const l of listeners) l(reason);
  }

  /** Init, unseal, seal and rekey never interleave (two concurrent unseals would race the barrier). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.pending.then(fn, fn);
    this.pending = run.catch(() => undefined);
    return run;
  }
}

function withoutEscrow(record: SealConfigRecord): SealConfigRecord {
  const { escrow: _escrow, ...rest } = record;
  return rest;
}

function decode(bytes: Buffer): SealConfigRecord {
  try {
    return decodeSealConfig(bytes);
  } catch (e) {
    throw new KeywardError('IntegrityException', `The seal configuration record is unreadable: ${(e as Error).message}`);
  }
}

function recoveryLayout(spec: SealSpec): ShareLayout {
  return { shares: spec.recoveryShares ?? DEFAULT_RECOVERY.shares, threshold: spec.recoveryThreshold ?? (spec.recoveryShares === undefined ? DEFAULT_RECOVERY.threshold : Math.min(spec.recoveryShares, DEFAULT_RECOVERY.threshold)) };
}

/** Validates a seal spec before anything is generated or written. */
export function checkSpec(spec: SealSpec): void {
  if (!SEAL_TYPES.includes(spec.type)) throw new KeywardError('ValidationException', `Unknown seal type ${quote(spec.type)}: use one of ${SEAL_TYPES.join(', ')}.`);
  if (spec.type === 'passphrase') checkPassphrase(spec.passphrase ?? '');
  if (spec.type === 'shamir') {
    if (spec.shares === undefined || spec.threshold === undefined) throw new KeywardError('ValidationException', 'The shamir seal needs `shares` and `threshold` (for example 5 and 3).');
    checkShareLayout({ shares: spec.shares, threshold: spec.threshold });
  }
  if (spec.type === 'static' || spec.type === 'pkcs11' || spec.type === 'transit') checkShareLayout(recoveryLayout(spec), 'recovery shares');
}

/** Root rotation keeps the seal as it is: same passphrase; shamir and recovery layouts unchanged. */
function sameSeal(seal: SealConfig, auth: SealAuthorization): SealSpec {
  if (seal.type === 'passphrase') return { type: 'passphrase', passphrase: auth.passphrase ?? '' };
  if (seal.type === 'shamir') return { type: 'shamir', shares: seal.shares, threshold: seal.threshold };
  return { type: seal.type };
}

function conflictOr(e: unknown): unknown {
  if ((e as Error).name === 'StoreConflictError') return new KeywardError('ConflictException', 'The seal was changed concurrently (another node rekeyed); nothing was written. Retry.');
  return e;
}
