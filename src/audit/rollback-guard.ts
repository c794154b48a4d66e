import type { Store } from '../storage/index.js';
import type { AnchorFile, AnchorPoint, AnchorState } from './anchor.js';
import type { AuditLog } from './audit-log.js';
import { headPath, recordPath, recordPrefix } from './layout.js';
import { parseEntry, type AuditEvent } from './record.js';
import { listChains } from './store-reader.js';

/** One way the store is behind what this node's anchor saw. */
export interface RollbackFinding {
  readonly kind: 'epoch' | 'forged-epoch' | 'truncated' | 'rewritten' | 'missing-chain';
  /** The audit chain concerned (chain findings). */
  readonly chain?: string;
  readonly message: string;
}

export interface StateWrites {
  count: number;
  covered: number;
}

export type RollbackState =
  | { readonly kind: 'unchecked' }
  | { readonly kind: 'ok'; readonly checkedAt: string }
  | { readonly kind: 'detected'; readonly since: string; readonly findings: readonly RollbackFinding[] };

export interface RollbackGuardOptions {
  readonly clock: () => Date;
  /** How often the store is compared with the anchor while unsealed. */
  readonly intervalMs: number;
  /**
   * This process's writes under the barrier (`count`), and how many of them a request's audit
   * record already advanced the epoch for (`covered`); the rest (scheduler, rotations) the check does.
   */
  readonly stateWrites?: StateWrites;
  readonly onDetected?: (findings: readonly RollbackFinding[]) => void;
  readonly onAccepted?: (acceptedAt: string) => void;
  readonly onError?: (e: unknown) => void;
}

const MAX_FINDINGS = 50;

/**
 * Compares the store with the node-local anchor, on unseal and every `intervalMs`: the store
 * epoch may not be lower than the anchor's, and every chain the anchor knows must still hold the
 * record it saw (same hash) with its head at or beyond it. A mismatch is sticky: the node refuses
 * key operations (RollbackDetected) until an operator accepts the store as it is
 * (`keyward audit accept-rollback`, which marks the anchor file accepted). A clean check raises the
 * anchor to what the store holds now (epoch and the head of every chain, other nodes' included).
 */
export class RollbackGuard {
  private current: RollbackState = { kind: 'unchecked' };
  private running: Promise<RollbackState> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The anchor's acceptance mark when the rollback was detected: a new one clears the detection. */
  private acceptedAtDetection: string | undefined;

  constructor(private readonly store: Store, private readonly audit: AuditLog, readonly anchor: AnchorFile, private readonly options: RollbackGuardOptions) {}

  get state(): RollbackState {
    return this.current;
  }

  /** What the anchor knows per chain (for VerifyAudit); empty when it cannot be read. */
  anchoredChains(): Readonly<Record<string, AnchorPoint>> {
    try {
      return this.anchor.read()?.chains ?? {};
    } catch {
      return {};
    }
  }

  /** On unseal: checks now and then periodically. */
  start(): void {
    this.stop();
    this.current = { kind: 'unchecked' };
    void this.check().catch(() => undefined);
    this.timer = setInterval(() => {
      void this.check().catch(() => undefined);
    }, this.options.intervalMs);
    this.timer.unref();
  }

  /** On seal: nothing is checked while the keys are gone. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Resolves once the store has been checked since unseal: the state then says whether requests
   * may be served. Throws when the check itself could not run (the store did not answer).
   */
  async ready(): Promise<RollbackState> {
    if (this.current.kind !== 'unchecked') return this.current;
    return this.check();
  }

  /** Runs one comparison (joining one in progress). */
  check(): Promise<RollbackState> {
    this.running ??= this.runCheck().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async runCheck(): Promise<RollbackState> {
    let anchor: AnchorState | undefined;
    try {
      // the anchor first, then the store: the store can only have moved on since
      anchor = this.anchor.read();
    } catch (e) {
      return this.detected([{ kind: 'epoch', message: `the anchor file ${this.anchor.path} cannot be read (${(e as Error).message}): the store cannot be compared with it` }]);
    }
    const prior = this.current;
    if (prior.kind === 'detected') {
      // sticky until an operator accepted the store after the detection
      const at = anchor?.accepted?.at;
      if (at === undefined || at === this.acceptedAtDetection) return prior;
    }
    try {
      const findings = await this.compare(anchor);
      if (findings.length > 0) {
        if (prior.kind !== 'detected') this.acceptedAtDetection = anchor?.accepted?.at;
        return this.detected(findings);
      }
      await this.raise();
      if (prior.kind === 'detected') {
        this.options.onAccepted?.(anchor?.accepted?.at ?? '');
        await this.audit.record(systemEvent('RollbackAccepted', { acceptedAt: anchor?.accepted?.at ?? '' })).catch((e: unknown) => this.options.onError?.(e));
      }
      this.current = { kind: 'ok', checkedAt: this.options.clock().toISOString() };
      return this.current;
    } catch (e) {
      this.options.onError?.(e);
      throw e;
    }
  }

  private detected(findings: readonly RollbackFinding[]): RollbackState {
    const first = this.current.kind !== 'detected';
    this.current = { kind: 'detected', since: this.current.kind === 'detected' ? this.current.since : this.options.clock().toISOString(), findings };
    if (first) {
      this.options.onDetected?.(findings);
      const summary = findings.map((f) => f.message).join(' | ').slice(0, 2000);
      void this.audit.record(systemEvent('RollbackDetected', { findings: summary })).catch((e: unknown) => this.options.onError?.(e));
    }
    return this.current;
  }

  /** Where the store is behind the anchor. */
  async compare(anchor: AnchorState | undefined): Promise<RollbackFinding[]> {
    const findings: RollbackFinding[] = [];
    const epoch = await this.audit.readEpoch();
    if (epoch.kind === 'forged') {
      findings.push({ kind: 'forged-epoch', message: 'the store epoch record was not written by this installation (its MAC does not verify): the store was tampered with' });
    }
    if (anchor === undefined) return findings;
    const storeEpoch = epoch.kind === 'ok' ? epoch.epoch : 0;
    if (epoch.kind !== 'forged' && storeEpoch < anchor.epoch) {
      findings.push({ kind: 'epoch', message: `the store is at epoch ${storeEpoch} but this node has seen epoch ${anchor.epoch}: the store was rolled back (restored from an older copy, or rows written back)` });
    }
    for (const [chain, point] of Object.entries(anchor.chains)) {
      if (findings.length >= MAX_FINDINGS) break;
      const f = await this.compareChain(chain, point);
      if (f !== undefined) findings.push(f);
    }
    return findings;
  }

  private async compareChain(chain: string, point: AnchorPoint): Promise<RollbackFinding | undefined> {
    const head = await this.store.get(headPath(chain));
    if (head === undefined) {
      return { kind: 'missing-chain', chain, message: `the audit chain ${chain} is missing from the store (this node saw it up to record ${point.seq}): it was deleted` };
    }
    const { seq } = JSON.parse(head.value.toString('utf8')) as { seq: number };
    if (seq < point.seq) {
      return { kind: 'truncated', chain, message: `the audit chain ${chain} ends at record ${seq} but this node saw record ${point.seq}: records ${seq + 1}..${point.seq} were removed and the head reset (rolled back)` };
    }
    const rec = await this.store.get(recordPath(chain, point.seq));
    if (rec !== undefined) {
      let hash: string | undefined;
      try {
        const e = parseEntry(rec.value.toString('utf8'));
        if (e.type === 'record') hash = e.hash;
      } catch {
        // reported below as rewritten
      }
      if (hash !== point.hash) {
        return { kind: 'rewritten', chain, message: `record ${point.seq} of the audit chain ${chain} is not the record this node saw there: the chain was cut back (or rewritten) and continued` };
      }
      return undefined;
    }
    // gone: fine only when retention pruned it (the chain now starts after it)
    const first = (await this.store.list(recordPrefix(chain), { limit: 1 })).entries[0];
    const firstSeq = first === undefined ? undefined : Number(first.key.slice(first.key.lastIndexOf('/') + 1));
    if (firstSeq !== undefined && firstSeq > point.seq) return undefined;
    return { kind: 'truncated', chain, message: `record ${point.seq} of the audit chain ${chain}, which this node saw, is missing: records were deleted` };
  }

  /** After a clean check: the anchor follows the store (and background state changes advance the epoch). */
  private async raise(): Promise<void> {
    const writes = this.options.stateWrites;
    let epoch = await this.audit.readEpoch();
    if (writes !== undefined && writes.count > writes.covered && epoch.kind !== 'forged') {
      // state changed outside requests (scheduler, rotations): the epoch advances for it too
      const upTo = writes.count;
      epoch = { kind: 'ok', epoch: await this.audit.advanceEpoch() };
      writes.covered = Math.max(writes.covered, upTo);
    }
    const chains: Record<string, AnchorPoint> = {};
    for (const chain of await listChains(this.store)) {
      const head = await this.store.get(headPath(chain));
      if (head === undefined) continue;
      const h = JSON.parse(head.value.toString('utf8')) as { seq: number; hash: string };
      if (Number.isSafeInteger(h.seq) && h.seq > 0 && typeof h.hash === 'string') chains[chain] = { seq: h.seq, hash: h.hash };
    }
    // through the same queue as the audit log's writes: a synchronous write between their read and rename would be lowered again
    await this.anchor.advance(epoch.kind === 'ok' ? epoch.epoch : 0, chains, this.options.clock());
  }
}

function systemEvent(op: string, request: Record<string, string>): AuditEvent {
  return {
    requestId: 'none', transport: 'local', source: 'local', principal: null, tenant: null, credential: null,
    op, keyId: null, keyVersion: null, result: 'OK', request,
  };
}
