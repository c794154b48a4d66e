import { randomUUID } from 'node:crypto';
import type { AuditEvent } from '../../audit/index.js';

export interface AuditCoalescerOptions {
  /** Records of requests without an authenticated caller kept one by one, per source and interval ... */
  readonly perSource: number;
  /** ... and for all sources together; 0 turns coalescing off (every request its own record). */
  readonly global: number;
  readonly intervalMs: number;
  /** Sources with a summary of their own per interval; the rest share one summary (source `*`). */
  readonly maxSources?: number;
  readonly now: () => Date;
  /** Writes a summary record (the audit log). */
  readonly write: (event: AuditEvent) => Promise<void>;
  readonly onError: (e: unknown) => void;
}

/** The operation name of a summary record. */
export const COALESCED_OPERATION = 'CoalescedRequests';
const MAX_KINDS = 16;

interface Summary {
  count: number;
  readonly ops: Map<string, number>;
  readonly results: Map<string, number>;
  readonly transports: Set<string>;
}

/**
 * Bounds the audit records that callers without credentials (or with failed ones) can cause.
 * Within each interval the first `perSource` such requests of a source (and `global` in all)
 * get their own record; past that a request is counted instead, and at the end of the interval
 * each source's count (with its operations and results) is written as one `CoalescedRequests`
 * record. Nothing is dropped: every request is a record or part of a count.
 */
export class AuditCoalescer {
  private admitted = new Map<string, number>();
  private total = 0;
  private summaries = new Map<string, Summary>();
  private windowStart: Date;
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly options: AuditCoalescerOptions) {
    this.windowStart = options.now();
    this.timer = setInterval(() => { void this.flush(); }, options.intervalMs);
    this.timer.unref();
  }

  /** True: record this request on its own. False: it was counted into its source's summary. */
  admit(source: string, operation: string, result: string, transport: string): boolean {
    const { perSource, global } = this.options;
    if (global <= 0) return true;
    const n = this.admitted.get(source) ?? 0;
    if (n < perSource && this.total < global && (n > 0 || this.admitted.size < (this.options.maxSources ?? 10_000))) {
      this.admitted.set(source, n + 1);
      this.total += 1;
      return true;
    }
    const key = this.summaries.has(source) || this.summaries.size < (this.options.maxSources ?? 1000) ? source : '*';
    let s = this.summaries.get(key);
    if (s === undefined) {
      s = { count: 0, ops: new Map(), results: new Map(), transports: new Set() };
      this.summaries.set(key, s);
    }
    s.count += 1;
    bump(s.ops, operation);
    bump(s.results, result);
    s.transports.add(transport);
    return false;
  }

  /** Writes the summaries of the interval that ends now and starts the next. */
  flush(): Promise<void> {
    const run = this.flushing.then(async () => {
      const summaries = this.summaries;
      const from = this.windowStart;
      const to = this.options.now();
      this.summaries = new Map();
      this.admitted = new Map();
      this.total = 0;
      this.windowStart = to;
      for (const [source, s] of summaries) {
        const request: Record<string, string> = { count: String(s.count), from: from.toISOString(), to: to.toISOString() };
        for (const [op, n] of s.ops) request[`op.${op}`] = String(n);
        for (const [code, n] of s.results) request[`result.${code}`] = String(n);
        try {
          await this.options.write({
            requestId: `coalesced-${randomUUID()}`, transport: [...s.transports].sort().join(','), source, principal: null, tenant: null,
            credential: null, op: COALESCED_OPERATION, keyId: null, keyVersion: null, result: 'OK', request,
          });
        } catch (e) {
          this.options.onError(e);
        }
      }
    });
    this.flushing = run.catch(() => undefined);
    return run;
  }

  /** Stops the timer after writing what is counted (shutdown). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}

/** Counts by name, at most MAX_KINDS names (the rest as `other`): names are from closed sets anyway. */
function bump(counts: Map<string, number>, name: string): void {
  const key = counts.has(name) || counts.size < MAX_KINDS - 1 ? name : 'other';
  counts.set(key, (counts.get(key) ?? 0) + 1);
}
