import type { KeyObject } from 'node:crypto';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { StoreConflictError, writeBatch, type BatchWrite, type Store } from '../storage/index.js';
import { AuditKeys } from './audit-keys.js';
import type { CheckpointKeyInfo, CheckpointKeyStore } from './checkpoint-keys.js';
import type { AnchorPoint } from './anchor.js';
import { chainIndexPath, checkpointPath, checkpointPrefix, EPOCH_PATH, headPath, recordPath } from './layout.js';
import { pruneChain, type PruneResult } from './retention.js';
import {
  listChains, queryAllChains, queryRecords, rawEntries, tailAllChains, tailRecords, verifyStore, type AuditPage, type AuditQuery, type MergedAuditPage,
} from './store-reader.js';
import type { VerifyOptions, VerifyReport } from './verify.js';
import {
  encodeEntry, GENESIS_HASH, JsonStrings, parseEntry, RESUME_OPERATION, sealRecordBytes, type AuditCheckpoint, type AuditEvent, type AuditRecord,
} from './record.js';

export type { AuditEvent } from './record.js';

/** A second destination for the same entries (a JSON-lines file for a SIEM). */
export interface AuditSink {
  readonly name: string;
  /** Appends the entries of one committed batch; resolves when durable per the sink's policy. */
  write(entries: readonly (AuditRecord | AuditCheckpoint)[]): Promise<void>;
  /** Starts writing to the path afresh (after log rotation; SIGHUP). */
  reopen?(): void;
  /**
   * Whether the next write starts a file (a new sink, or one reopened after rotation): it is then
   * given a signed anchor checkpoint first, so the file verifies on its own from where it begins.
   */
  startsFile?(): boolean;
  close(): Promise<void>;
}

export interface AuditLogOptions {
  /** When false, nothing is recorded (benchmarks comparing with and without). */
  readonly enabled: boolean;
  /** The chain to append to: the node id. */
  readonly chain: string;
  /** This process, recorded in each record. */
  readonly node: string;
  readonly clock: () => Date;
  /** Sign the chain head every this many records ... */
  readonly checkpointEveryRecords: number;
  /** ... or every this many milliseconds, whichever comes first. */
  readonly checkpointEveryMs: number;
  /** Most records committed in one store transaction. */
  readonly maxBatch?: number;
  /**
   * How long a batch may wait for as many records as were in flight after the last one before
   * it is written (default 0: never waits; see gatherBatch).
   */
  readonly commitDelayMs?: number;
  readonly sinks?: readonly AuditSink[];
  /** Background errors other than write failures (those are reported through onWriteState). */
  readonly onError?: (e: unknown) => void;
  /**
   * Changes of the log's ability to write: once when writes start failing, a summary every
   * `failureSummaryMs` while they keep failing, once when they succeed again (never per attempt).
   */
  readonly onWriteState?: (state: AuditWriteState) => void;
  /** How often a failure that lasts is summarised (default 60 s, by `clock`). */
  readonly failureSummaryMs?: number;
  /** Where retention writes what it prunes. */
  readonly exportDir: string;
  /** Prune records older than this many days automatically (checked hourly while unsealed). */
  readonly retentionDays?: number;
  /**
   * Called after a batch with a signed checkpoint is durable: the chain point it signed and the
   * store epoch as this process last wrote it (the node-local anchor follows them).
   */
  readonly onAnchor?: (chain: string, point: AnchorPoint, epoch: number | undefined) => void | Promise<void>;
  /** Where the checkpoint signing key's versions are kept (the barrier); without it only version 1 exists. */
  readonly checkpointKeyStore?: CheckpointKeyStore;
}

/** How the audit log reads the store epoch: a number, none yet, or a record that is not Keyward's. */
export type EpochReading = { readonly kind: 'none' } | { readonly kind: 'ok'; readonly epoch: number } | { readonly kind: 'forged' };

/** The audit log's ability to write, reported on change (and periodically while failing). */
export type AuditWriteState =
  | { readonly kind: 'failing'; readonly error: unknown }
  | { readonly kind: 'still-failing'; readonly failures: number; readonly sinceMs: number; readonly error: unknown }
  | { readonly kind: 'recovered'; readonly failures: number; readonly sinceMs: number };

/** The audit log could not durably record; the request it was for must fail. */
export class AuditWriteError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuditWriteError';
  }
}

interface Head { seq: number; hash: string; version: number }
type Mutable<T> = { -readonly [K in keyof T]: T[K] };
interface Pending { readonly event: AuditEvent; readonly stateChange: boolean; resolve(): void; reject(e: unknown): void }
interface CheckpointRequest { readonly kind: 'periodic' | 'final'; readonly keys: AuditKeys | undefined; resolve(): void; reject(e: unknown): void }

const DEFAULT_MAX_BATCH = 1000;
/**
 * Conflicts on the chain head (processes of one node) or the store epoch (every node's state
 * changes advance the one epoch) are retried for up to this long (real time), each retry after a
 * jittered pause that grows with the attempts, so nodes racing for the epoch spread out instead of
 * colliding again. Ten immediate retries refused requests when six nodes changed state at once.
 */
const CONFLICT_RETRY_MS = 5_000;
const MAX_CONFLICT_PAUSE_MS = 50;

/** After the conflict of `attempt` (from 0) of work started at `startedMs`: pauses and says whether to try again. */
async function retryAfterConflict(attempt: number, startedMs: number): Promise<boolean> {
  if (performance.now() - startedMs > CONFLICT_RETRY_MS) return false;
  if (attempt === 0) await nextTurn();
  else await sleep(Math.random() * Math.min(MAX_CONFLICT_PAUSE_MS, 2 ** attempt));
  return true;
}

/**
 * The audit log writer: hash-chains records, commits them in groups (one store transaction per
 * batch: requests that arrive while a batch is being written form the next one), signs the chain
 * head every N records or T ms, and ships the same entries to the sinks. A request's record()
 * resolves only once its batch is durable, and rejects (so the request fails) when it is not.
 *
 * Many nodes: each node appends to its own chain (its node id), so nodes never contend for a
 * chain head; processes that share a node id are still safe because the head moves by
 * compare-and-set (a conflict reloads the head and rebuilds the batch).
 */
export class AuditLog {
  private keys: AuditKeys | undefined;
  private head: Head | undefined;
  /** The store epoch as last read or written by this process (reloaded after a conflict). */
  private epoch: { n: number; version: number } | undefined;
  /** Whether this process has loaded the chain's head yet (it announces a resumed chain once). */
  private headLoaded = false;
  private queue: Pending[] = [];
  private checkpointRequests: CheckpointRequest[] = [];
  private draining = false;
  /** Records written or queued when the last batch became durable: what the next batch waits for (gatherBatch). */
  private inFlight = 0;
  /** Set while a batch waits out the commit delay: ends the wait once `target` records are queued. */
  private gathering: { readonly target: number; wake(): void } | undefined;
  private sinceCheckpoint = 0;
  private lastCheckpointAt: number;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly maxBatch: number;
  private closed = false;
  /** The last sequence number each sink has durably received, once known (after a failure). */
  private readonly sinkShipped = new Map<AuditSink, number>();
  /** Set while writes fail: since when, how many, the last error, when last summarised. */
  private failing: { sinceMs: number; failures: number; error: unknown; summarisedAt: number } | undefined;

  constructor(private readonly store: Store, private readonly options: AuditLogOptions) {
    this.maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
    this.lastCheckpointAt = options.clock().getTime();
    if (options.enabled) {
      this.timer = setInterval(() => this.onTimer(), Math.max(50, Math.min(options.checkpointEveryMs, 1000)));
      this.timer.unref();
    }
  }

  get enabled(): boolean {
    return this.options.enabled;
  }

  get chain(): string {
    return this.options.chain;
  }

  /** For the metrics: records waiting to be written, and failed write attempts since start. */
  get stats(): { backlog: number; writeFailures: number; failing: boolean } {
    return { backlog: this.queue.length, writeFailures: this.writeFailures, failing: this.failing !== undefined };
  }

  /** Derives the HMAC and signing keys (on unseal). */
  unlock(auditKey: Buffer): void {
    this.keys?.destroy();
    this.keys = new AuditKeys(auditKey, this.options.checkpointKeyStore);
  }

  /** Forgets the keys (on seal), after signing what was written with them. */
  lock(): void {
    const keys = this.keys;
    this.keys = undefined;
    if (keys === undefined) return;
    if (!this.options.enabled || this.closed) {
      keys.destroy();
      return;
    }
    this.requestCheckpoint('periodic', keys)
      .catch((e: unknown) => this.backgroundError(e))
      .finally(() => keys.destroy());
  }

  /** Write failures are reported as state changes (drain); anything else as it happens. */
  private backgroundError(e: unknown): void {
    if (!(e instanceof AuditWriteError)) this.options.onError?.(e);
  }

  private writeFailures = 0;

  private writeFailed(error: unknown): void {
    this.writeFailures += 1;
    const now = this.options.clock().getTime();
    if (this.failing !== undefined) {
      this.failing.failures += 1;
      this.failing.error = error;
      return;
    }
    this.failing = { sinceMs: now, failures: 1, error, summarisedAt: now };
    this.options.onWriteState?.({ kind: 'failing', error });
  }

  private writeSucceeded(): void {
    const f = this.failing;
    if (f === undefined) return;
    this.failing = undefined;
    this.options.onWriteState?.({ kind: 'recovered', failures: f.failures, sinceMs: f.sinceMs });
  }

  private summariseFailure(): void {
    const f = this.failing;
    const now = this.options.clock().getTime();
    if (f === undefined || now - f.summarisedAt < (this.options.failureSummaryMs ?? 60_000)) return;
    f.summarisedAt = now;
    this.options.onWriteState?.({ kind: 'still-failing', failures: f.failures, sinceMs: f.sinceMs, error: f.error });
  }

  get unlocked(): boolean {
    return this.keys !== undefined;
  }

  /** `hmac-sha256:<hex>` of a sensitive value, or undefined while sealed (no key to digest with). */
  digest(value: string): string | undefined {
    return this.keys?.hmac(value);
  }

  /** The digest of an identifier that recurs (a token id), remembered while the keys last. */
  digestId(id: string): string | undefined {
    return this.keys?.hmacOfId(id);
  }

  publicKeyPem(): string | undefined {
    return this.keys?.publicKeyPem();
  }

  publicKey(): KeyObject | undefined {
    return this.keys?.publicKey;
  }

  /** Every checkpoint key version (loaded from the store first), or undefined while sealed. */
  async checkpointKeys(): Promise<{ readonly active: number; readonly versions: readonly CheckpointKeyInfo[] } | undefined> {
    const keys = this.keys;
    if (keys === undefined) return undefined;
    await keys.ready();
    return { active: keys.keyVersion, versions: keys.checkpointKeyVersions };
  }

  /** Makes a new checkpoint signing key version; every process that signs follows it (store watch). */
  rotateCheckpointKey(): Promise<CheckpointKeyInfo> {
    const keys = this.keys;
    if (keys === undefined) return Promise.reject(new AuditWriteError('the checkpoint key cannot be rotated while sealed'));
    return keys.rotateCheckpointKey(this.options.clock());
  }

  /** Verifies the chains in the store (signatures with the given keys, else every version of this installation's). */
  async verify(options: Omit<VerifyOptions, 'now' | 'anchor'> & { readonly chain?: string; readonly anchors?: Readonly<Record<string, { seq: number; hash: string }>> }): Promise<VerifyReport> {
    const keys = this.keys;
    if (options.publicKey === undefined && options.publicKeys === undefined) await keys?.ready();
    const publicKeys = options.publicKeys ?? (options.publicKey === undefined ? keys?.publicKeySet() : undefined);
    return verifyStore(this.store, { ...options, ...(publicKeys ? { publicKeys } : {}), now: this.options.clock() });
  }

  query(q: AuditQuery): Promise<AuditPage> {
    return queryRecords(this.store, this.options.chain, q);
  }

  /** Every chain's matching records, merged by time (search across nodes). */
  queryAll(q: Parameters<typeof queryAllChains>[1]): Promise<MergedAuditPage> {
    return queryAllChains(this.store, q);
  }

  /** The newest records of one chain, or of every chain merged by time when none is named. */
  tail(chain: string | undefined, count: number): Promise<AuditRecord[]> {
    return chain === undefined ? tailAllChains(this.store, count) : tailRecords(this.store, chain, count);
  }

  chains(): Promise<string[]> {
    return listChains(this.store);
  }

  /** Exports and prunes records older than `cutoff` (retention); needs the keys (unsealed). */
  async prune(cutoff: Date, chain?: string): Promise<PruneResult> {
    const keys = this.keys;
    if (keys === undefined) throw new AuditWriteError('the audit log cannot prune while sealed (the anchor checkpoint must be signed)');
    return pruneChain(this.store, keys, {
      chain: chain ?? this.options.chain, cutoff, exportDir: this.options.exportDir, node: this.options.node, now: this.options.clock(),
      everyRecords: this.options.checkpointEveryRecords, everyMs: this.options.checkpointEveryMs,
    });
  }

  /**
   * Appends one record; resolves when it is durable in the store (and every sink). A record of a
   * state change also advances the store epoch and is signed at once, in the same batch, so the
   * node's anchor covers it before the request is answered.
   */
  record(event: AuditEvent, options: { readonly stateChange?: boolean } = {}): Promise<void> {
    if (!this.options.enabled) return Promise.resolve();
    if (this.closed) return Promise.reject(new AuditWriteError('the audit log is closed'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ event, stateChange: options.stateChange === true, resolve, reject });
      if (this.gathering !== undefined && this.queue.length >= this.gathering.target) this.gathering.wake();
      this.kick();
    });
  }

  /**
   * Advances the store epoch alone (state changed outside any request: the scheduler, a rotation);
   * answers the new epoch. Retries when another process advanced it first.
   */
  async advanceEpoch(): Promise<number> {
    const started = performance.now();
    for (let attempt = 0; ; attempt++) {
      const keys = this.keys;
      if (keys === undefined) throw new AuditWriteError('the store epoch cannot be advanced while sealed');
      const current = await this.loadEpoch(keys);
      try {
        const version = await this.store.put(EPOCH_PATH, encodeEpoch(current.n + 1, keys), { ifVersion: current.version });
        this.epoch = { n: current.n + 1, version };
        return current.n + 1;
      } catch (e) {
        this.epoch = undefined;
        if (!(e instanceof StoreConflictError) || !(await retryAfterConflict(attempt, started))) throw e;
      }
    }
  }

  /** The store epoch as the store holds it now (its MAC checked: needs the keys). */
  async readEpoch(): Promise<EpochReading> {
    const keys = this.keys;
    if (keys === undefined) throw new AuditWriteError('the store epoch cannot be checked while sealed');
    const entry = await this.store.get(EPOCH_PATH);
    if (entry === undefined) return { kind: 'none' };
    const n = parseEpoch(entry.value, keys);
    return n === undefined ? { kind: 'forged' } : { kind: 'ok', epoch: n };
  }

  /** Reopens file sinks (SIGHUP after log rotation). */
  reopenSinks(): void {
    for (const sink of this.options.sinks ?? []) sink.reopen?.();
  }

  /** Signs the current head now (if anything is unsigned). */
  checkpoint(): Promise<void> {
    return this.requestCheckpoint('periodic', this.keys);
  }

  /** Writes a final checkpoint (while the keys are there) and stops; later records are refused. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    if (this.options.enabled && this.keys !== undefined) {
      await this.requestCheckpoint('final', this.keys).catch((e: unknown) => this.options.onError?.(e));
    }
    this.closed = true;
    this.gathering?.wake();
    while (this.draining) await nextTurn();
    this.keys?.destroy();
    this.keys = undefined;
    for (const sink of this.options.sinks ?? []) await sink.close().catch((e: unknown) => this.options.onError?.(e));
  }

  private requestCheckpoint(kind: 'periodic' | 'final', keys: AuditKeys | undefined): Promise<void> {
    if (!this.options.enabled || keys === undefined) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.checkpointRequests.push({ kind, keys, resolve, reject });
      // a checkpoint (a seal, a shutdown, the interval's) does not wait out a commit delay
      this.gathering?.wake();
      this.kick();
    });
  }

  private lastRetentionAt = 0;

  private onTimer(): void {
    this.maybeRetain();
    this.summariseFailure();
    if (this.sinceCheckpoint === 0 || this.keys === undefined) return;
    if (this.options.clock().getTime() - this.lastCheckpointAt < this.options.checkpointEveryMs) return;
    this.checkpoint().catch((e: unknown) => this.backgroundError(e));
  }

  private maybeRetain(): void {
    const days = this.options.retentionDays;
    const now = this.options.clock().getTime();
    if (days === undefined || this.keys === undefined || now - this.lastRetentionAt < 3_600_000) return;
    this.lastRetentionAt = now;
    this.prune(new Date(now - days * 86_400_000)).catch((e: unknown) => this.options.onError?.(e));
  }

  private kick(): void {
    if (this.draining) return;
    this.draining = true;
    void this.drain();
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0 || this.checkpointRequests.length > 0) {
        // Let the requests already read from the sockets join this batch (group commit).
        await nextTurn();
        await this.gatherBatch();
        const batch = this.queue.splice(0, this.maxBatch);
        const cps = this.queue.length === 0 ? this.checkpointRequests.splice(0) : [];
        try {
          await this.writeBatch(batch.map((p) => p.event), cps, batch.some((p) => p.stateChange));
          this.writeSucceeded();
          this.inFlight = batch.length + this.queue.length;
          for (const p of batch) p.resolve();
          for (const c of cps) c.resolve();
        } catch (e) {
          const err = e instanceof AuditWriteError ? e : new AuditWriteError(`the audit log could not be written: ${(e as Error).message}`, { cause: e });
          this.writeFailed(err);
          for (const p of batch) p.reject(err);
          for (const c of cps) c.reject(err);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * The commit delay: waits up to commitDelayMs until as many records are queued as were in
   * flight (written or queued) when the last batch became durable: the clients it answered are
   * likely to send their next requests soon. Each batch costs the store a transaction and an
   * fsync whatever its size, so fewer, larger batches leave more CPU to the requests where CPU is
   * what runs out (processes sharing the cores: --workers); where the event loop is (one process),
   * the wait leaves it idle instead. A lone client does not wait (one record in flight; only its
   * first record after a burst of others may, once); a request waits at most commitDelayMs longer.
   */
  private async gatherBatch(): Promise<void> {
    const delayMs = this.options.commitDelayMs ?? 0;
    const target = Math.min(this.inFlight, this.maxBatch);
    if (delayMs <= 0 || target < 2 || this.queue.length >= target || this.checkpointRequests.length > 0 || this.closed) return;
    await new Promise<void>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.gathering = undefined;
        resolve();
      };
      const timer = setTimeout(wake, delayMs);
      this.gathering = { target, wake };
    });
  }

  private async writeBatch(events: readonly AuditEvent[], cps: readonly CheckpointRequest[], stateChange: boolean): Promise<void> {
    const started = performance.now();
    for (let attempt = 0; ; attempt++) {
      try {
        await this.tryWriteBatch(events, cps, stateChange);
        return;
      } catch (e) {
        // Another process appended to this chain (same node id) or advanced the epoch: reload and rebuild.
        this.head = undefined;
        this.epoch = undefined;
        if (!(e instanceof StoreConflictError) || !(await retryAfterConflict(attempt, started))) throw e;
      }
    }
  }

  private async tryWriteBatch(events: readonly AuditEvent[], cps: readonly CheckpointRequest[], stateChange: boolean): Promise<void> {
    const { chain } = this.options;
    const now = this.options.clock();
    let head = this.head;
    let isNewHead = false;
    const all: AuditEvent[] = [];
    if (head === undefined) {
      head = await this.loadHead();
      isNewHead = true;
    }
    // A process continuing an existing chain says so first (see verify: a record after a final
    // checkpoint must be this one).
    if (!this.headLoaded && head.seq > 0 && events.length > 0) all.push(resumeEvent(this.options.node));
    all.push(...events);
    const records: AuditRecord[] = [];
    const encoded: Buffer[] = [];
    let seq = head.seq;
    let prev = head.hash;
    const strings = new JsonStrings();
    const time = now.toISOString();
    for (const e of all) {
      seq += 1;
      // one object per record: its hash is filled in once the encoding without it is hashed
      const record: Mutable<AuditRecord> = {
        type: 'record', v: 1, chain, seq, time, node: this.options.node, requestId: e.requestId,
        transport: e.transport, source: e.source, principal: e.principal, tenant: e.tenant, credential: e.credential,
        op: e.op, keyId: e.keyId, keyVersion: e.keyVersion, result: e.result, request: e.request, prev, hash: '',
      };
      const sealed = sealRecordBytes(record, strings);
      record.hash = sealed.hash;
      records.push(record);
      encoded.push(sealed.bytes);
      prev = sealed.hash;
    }
    const unsigned = this.sinceCheckpoint + records.length;
    let checkpoint: AuditCheckpoint | undefined;
    const wanted = cps.find((c) => c.kind === 'final') ?? cps[0];
    const signer = wanted?.keys ?? this.keys;
    const advanceEpoch = stateChange && signer !== undefined && records.length > 0;
    const periodicDue = wanted !== undefined || unsigned >= this.options.checkpointEveryRecords;
    const due = periodicDue || advanceEpoch;
    if (due && signer !== undefined && seq > 0 && (unsigned > 0 || wanted?.kind === 'final')) {
      await signer.ready(); // the checkpoint key version another process may have rotated to
      checkpoint = signer.sign({
        type: 'checkpoint', v: 1, chain, seq, head: prev, time: now.toISOString(), kind: wanted?.kind ?? 'periodic',
        everyRecords: this.options.checkpointEveryRecords, everyMs: this.options.checkpointEveryMs, keyFingerprint: signer.fingerprint,
      });
    }
    if (records.length === 0 && checkpoint === undefined) {
      if (isNewHead) this.head = head;
      return;
    }
    // One atomic batch, written off the event loop where the store can (group commit).
    const ops: BatchWrite[] = [];
    if (head.version === 0) ops.push({ key: chainIndexPath(chain), value: Buffer.from(JSON.stringify({ chain, created: now.toISOString() })) });
    records.forEach((r, i) => ops.push({ key: recordPath(chain, r.seq), value: encoded[i]!, ifVersion: 0 }));
    if (checkpoint !== undefined) ops.push({ key: checkpointPath(chain, checkpoint.seq), value: Buffer.from(encodeEntry(checkpoint)) });
    if (records.length > 0) ops.push({ key: headPath(chain), value: Buffer.from(JSON.stringify({ seq, hash: prev })), ifVersion: head.version });
    let nextEpoch: number | undefined;
    if (advanceEpoch) {
      const current = this.epoch ?? await this.loadEpoch(signer);
      nextEpoch = current.n + 1;
      ops.push({ key: EPOCH_PATH, value: encodeEpoch(nextEpoch, signer), ifVersion: current.version });
    }
    const versions = await writeBatch(this.store, ops);
    if (nextEpoch !== undefined) this.epoch = { n: nextEpoch, version: versions[versions.length - 1]! };
    const newVersion = records.length > 0 ? versions[ops.findIndex((o) => o.key === headPath(chain))]! : head.version;
    this.head = { seq, hash: prev, version: newVersion };
    if (records.length > 0) this.headLoaded = true;
    // a state change's extra checkpoint leaves the periodic cadence (every N records or T ms) as it was
    if (checkpoint !== undefined && periodicDue) {
      this.sinceCheckpoint = 0;
      this.lastCheckpointAt = now.getTime();
    } else {
      this.sinceCheckpoint = unsigned;
    }
    if (checkpoint !== undefined) {
      try {
        await this.options.onAnchor?.(chain, { seq: checkpoint.seq, hash: checkpoint.head }, this.epoch?.n);
      } catch (e) {
        // the store has the batch; an anchor that lags behind it only detects less
        this.options.onError?.(e);
      }
    }
    const shipped: (AuditRecord | AuditCheckpoint)[] = checkpoint ? [...records, checkpoint] : records;
    const firstSeq = records[0]?.seq ?? seq + 1;
    for (const sink of this.options.sinks ?? []) {
      try {
        // A sink that missed batches (it failed after the store committed) first gets them again
        // from the store, so the file stays a complete copy of the chain.
        const behind = this.sinkShipped.get(sink);
        const backlog = behind !== undefined && behind < firstSeq - 1 ? await this.entriesBetween(behind + 1, firstSeq - 1) : [];
        let entries = backlog.length > 0 ? [...backlog, ...shipped] : shipped;
        const starts = sink.startsFile?.() === true;
        if (starts) await signer?.ready();
        const anchor = starts ? this.fileAnchor(entries, signer) : undefined;
        if (anchor !== undefined) entries = [anchor, ...entries];
        await sink.write(entries);
        this.sinkShipped.set(sink, seq);
      } catch (e) {
        if (!this.sinkShipped.has(sink)) this.sinkShipped.set(sink, firstSeq - 1);
        throw new AuditWriteError(`the audit sink ${sink.name} could not be written: ${(e as Error).message}`, { cause: e });
      }
    }
  }

  /** A signed `anchor` checkpoint over the record before the first one shipped (none when the file starts the chain). */
  private fileAnchor(entries: readonly (AuditRecord | AuditCheckpoint)[], signer: AuditKeys | undefined): AuditCheckpoint | undefined {
    const first = entries.find((e): e is AuditRecord => e.type === 'record');
    if (first === undefined || first.seq <= 1 || signer === undefined) return undefined;
    return signer.sign({
      type: 'checkpoint', v: 1, chain: first.chain, seq: first.seq - 1, head: first.prev, time: this.options.clock().toISOString(), kind: 'anchor',
      everyRecords: this.options.checkpointEveryRecords, everyMs: this.options.checkpointEveryMs, keyFingerprint: signer.fingerprint,
    });
  }

  /** Records and checkpoints of this chain with from <= seq <= to, in log order. */
  private async entriesBetween(from: number, to: number): Promise<(AuditRecord | AuditCheckpoint)[]> {
    const { chain } = this.options;
    const page = await queryRecords(this.store, chain, { chain, afterSeq: from - 1, limit: to - from + 1 });
    const cps: AuditCheckpoint[] = [];
    for await (const raw of rawEntries(this.store, checkpointPrefix(chain), checkpointPath(chain, from - 1))) {
      const c = parseEntry(raw.text);
      if (c.type !== 'checkpoint' || c.seq > to) break;
      cps.push(c);
    }
    const out: (AuditRecord | AuditCheckpoint)[] = [];
    for (const r of page.records) {
      if (r.seq > to) break;
      out.push(r);
      for (const c of cps) if (c.seq === r.seq) out.push(c);
    }
    return out;
  }

  private async loadEpoch(keys: AuditKeys): Promise<{ n: number; version: number }> {
    const entry = await this.store.get(EPOCH_PATH);
    if (entry === undefined) return { n: 0, version: 0 };
    const n = parseEpoch(entry.value, keys);
    if (n === undefined) throw new AuditWriteError(`the store epoch record ${EPOCH_PATH} was not written by this installation (tampered): state changes are refused`);
    return { n, version: entry.version };
  }

  private async loadHead(): Promise<Head> {
    const entry = await this.store.get(headPath(this.options.chain));
    if (entry === undefined) return { seq: 0, hash: GENESIS_HASH, version: 0 };
    const parsed = JSON.parse(entry.value.toString('utf8')) as { seq: number; hash: string };
    return { seq: parsed.seq, hash: parsed.hash, version: entry.version };
  }
}

function resumeEvent(node: string): AuditEvent {
  return {
    requestId: 'none', transport: 'local', source: 'local', principal: null, tenant: null, credential: null,
    op: RESUME_OPERATION, keyId: null, keyVersion: null, result: 'OK', request: { node },
  };
}

/** The store epoch record: the number and its HMAC under the audit key (a store writer cannot forge a higher one). */
function encodeEpoch(n: number, keys: AuditKeys): Buffer {
  return Buffer.from(JSON.stringify({ epoch: n, mac: keys.hmac(`keyward store epoch v1:${n}`) }));
}

function parseEpoch(value: Buffer, keys: AuditKeys): number | undefined {
  try {
    const o = JSON.parse(value.toString('utf8')) as { epoch?: unknown; mac?: unknown };
    if (typeof o.epoch !== 'number' || !Number.isSafeInteger(o.epoch) || o.epoch < 0 || typeof o.mac !== 'string') return undefined;
    return keys.hmac(`keyward store epoch v1:${o.epoch}`) === o.mac ? o.epoch : undefined;
  } catch {
    return undefined;
  }
}
