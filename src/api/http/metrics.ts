import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { isErrorCode } from '../../errors/index.js';
import { OPERATION_NAMES, type Services } from '../../operations/index.js';

/** The label of every operation name outside the closed set (an unknown X-Amz-Target, no route). */
export const UNKNOWN_LABEL = 'unknown';

/** Tenants named in `keyward_tenant_keys`; the rest are summed under `_other` (bounded series). */
export const TENANT_KEY_SERIES = 50;
/** How long a per-tenant key count is reused, and the most one scrape waits for fresh counts. */
const TENANT_KEYS_TTL_MS = 15_000;
const TENANT_KEYS_BUDGET_MS = 500;

const SEAL_TYPES = ['passphrase', 'shamir', 'pkcs11', 'transit', 'static'] as const;

/**
 * Prometheus metrics of one process: request counts by operation and outcome, latency, and the
 * gauges an operator alerts on (seal state, store, audit backlog, caches, barrier usage, keys per
 * tenant). Every label value comes from a closed set: operation names and result codes from the
 * registries (unknown ones are folded by the transport), cache and store-call names fixed here,
 * tenants bounded by TENANT_KEY_SERIES and created only by administrators.
 */
export class HttpMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'operation' | 'code'>;
  private readonly latency: Histogram<'operation'>;
  /** Bounded: operations and codes are closed sets (OPERATION_NAMES, the error registry). */
  private readonly series = new Map<string, { latency: { observe(v: number): void }; counts: Map<string, { inc(): void }> }>();
  private tenantKeys: { at: number; rows: ReadonlyArray<readonly [string, number]> } | undefined;
  private tenantKeysLoading: Promise<void> | undefined;

  constructor(services?: Services) {
    collectDefaultMetrics({ register: this.registry, prefix: 'keyward_' });
    this.requests = new Counter({ name: 'keyward_requests_total', help: 'Requests by operation and result code', labelNames: ['operation', 'code'], registers: [this.registry] });
    this.latency = new Histogram({
      name: 'keyward_request_duration_seconds',
      help: 'Request latency by operation',
      labelNames: ['operation'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [this.registry],
    });
    if (services !== undefined) this.nodeGauges(services);
  }

  observe(operation: string, code: string, seconds: number): void {
    const op = OPERATION_NAMES.has(operation) ? operation : UNKNOWN_LABEL;
    const result = code === 'OK' || isErrorCode(code) ? code : UNKNOWN_LABEL;
    // the labelled children, made once per operation (and code): prom-client hashes the labels on every call otherwise
    let series = this.series.get(op);
    if (series === undefined) {
      series = { latency: this.latency.labels({ operation: op }), counts: new Map() };
      this.series.set(op, series);
    }
    let count = series.counts.get(result);
    if (count === undefined) {
      count = this.requests.labels({ operation: op, code: result });
      series.counts.set(result, count);
    }
    count.inc();
    series.latency.observe(seconds);
  }

  private nodeGauges(services: Services): void {
    const registers = [this.registry];
    const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge) => void | Promise<void>) =>
      new Gauge({ name, help, labelNames, registers, collect() { return collect(this); } });

    gauge('keyward_build_info', 'Always 1: the version of Keyward and the node id, as labels', ['version', 'node'], (g) => {
      g.set({ version: services.version, node: services.nodeId }, 1);
    });
    gauge('keyward_sealed', '1 while this node is sealed (it refuses every key operation), 0 when unsealed', [], (g) => {
      g.set(services.seal.sealed ? 1 : 0);
    });
    gauge('keyward_seal_type', '1 for the seal type the installation uses (unknown until the store answered once)', ['type'], async (g) => {
      const known = await services.seal.knownStatus(100);
      for (const type of SEAL_TYPES) g.set({ type }, known?.type === type ? 1 : 0);
    });
    gauge('keyward_store_up', '1 while the store answers (from what the node already knows; no round trip), else 0', [], (g) => {
      g.set((services.storeHealth?.() ?? { reachable: true }).reachable ? 1 : 0);
    });
    gauge('keyward_audit_backlog', 'Audit records waiting to be written (requests waiting on them)', [], (g) => {
      g.set(services.audit.stats.backlog);
    });
    new Counter({
      name: 'keyward_audit_write_failures_total', help: 'Audit batch writes that failed (each fails its requests: fail closed)', registers,
      collect() { this.reset(); this.inc(services.audit.stats.writeFailures); },
    });
    gauge('keyward_cache_entries', 'Entries held by each in-memory cache', ['cache'], (g) => {
      for (const [cache, s] of Object.entries(services.keyring.cacheStats())) g.set({ cache }, s.size);
    });
    new Counter({
      name: 'keyward_cache_lookups_total', help: 'Cache lookups by cache and result (hit: answered from memory; miss: read from the store)', labelNames: ['cache', 'result'], registers,
      collect() {
        this.reset();
        for (const [cache, s] of Object.entries(services.keyring.cacheStats())) {
          this.inc({ cache, result: 'hit' }, s.hits);
          this.inc({ cache, result: 'miss' }, s.misses);
        }
      },
    });
    gauge('keyward_barrier_encryptions', 'Encryptions reserved under the active barrier term (all nodes); 0 while sealed', [], (g) => {
      g.set(services.keyring.barrier.unlocked ? services.keyring.barrier.status().encryptions : 0);
    });
    gauge('keyward_barrier_encryptions_limit', 'Reserved encryptions at which the barrier term rotates automatically (below 2^32)', [], (g) => {
      if (services.keyring.barrier.unlocked) g.set(services.keyring.barrier.status().rotateAfter);
    });
    gauge('keyward_tenant_keys', `Keys per tenant (any state), for the first ${TENANT_KEY_SERIES} tenants; the rest summed under tenant="_other"; refreshed at most every ${TENANT_KEYS_TTL_MS / 1000} s`, ['tenant'], async (g) => {
      g.reset();
      for (const [tenant, keys] of await this.tenantKeyCounts(services)) g.set({ tenant }, keys);
    });

    const storeLatency = new Histogram({
      name: 'keyward_store_duration_seconds', help: 'Store calls by call and outcome (a transaction includes its work)', labelNames: ['call', 'outcome'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5], registers,
    });
    services.storeTimings?.onTiming((call, seconds, failed) => storeLatency.observe({ call, outcome: failed ? 'error' : 'ok' }, seconds));
  }

  /** Key counts from the store, reused for a while; a scrape waits at most TENANT_KEYS_BUDGET_MS for them. */
  private async tenantKeyCounts(services: Services): Promise<ReadonlyArray<readonly [string, number]>> {
    if (services.seal.sealed) return [];
    const now = Date.now();
    if (this.tenantKeys === undefined || now - this.tenantKeys.at > TENANT_KEYS_TTL_MS) {
      this.tenantKeysLoading ??= (async () => {
        const rows: Array<[string, number]> = [];
        let other = 0;
        let after: string | undefined;
        let pages = 0;
        do {
          const page = await services.keyring.tenants.list(after, 100);
          for (const t of page.tenants) {
            const { keys } = await services.keyring.tenants.usage(t);
            if (rows.length < TENANT_KEY_SERIES) rows.push([t.id, keys]);
            else other += keys;
          }
          after = page.next;
          pages++;
        } while (after !== undefined && pages < 100);
        if (other > 0 || after !== undefined) rows.push(['_other', other]);
        this.tenantKeys = { at: Date.now(), rows };
      })().catch(() => undefined).finally(() => { this.tenantKeysLoading = undefined; });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.tenantKeysLoading, new Promise<void>((done) => { timer = setTimeout(done, TENANT_KEYS_BUDGET_MS); })]);
      clearTimeout(timer);
    }
    return this.tenantKeys?.rows ?? [];
  }
}
