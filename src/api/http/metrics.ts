import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { isErrorCode } from '../../errors/index.js';
import { OPERATION_NAMES } from '../../operations/index.js';

/** The label of every operation name outside the closed set (an unknown X-Amz-Target, no route). */
export const UNKNOWN_LABEL = 'unknown';

/**
 * Prometheus metrics of one process: request counts by operation and outcome, latency. Labels
 * come only from closed sets (operation names, registry codes), so callers cannot add series.
 */
export class HttpMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'operation' | 'code'>;
  private readonly latency: Histogram<'operation'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'keyward_' });
    this.requests = new Counter({ name: 'keyward_requests_total', help: 'Requests by operation and result code', labelNames: ['operation', 'code'], registers: [this.registry] });
    this.latency = new Histogram({
      name: 'keyward_request_duration_seconds',
      help: 'Request latency by operation',
      labelNames: ['operation'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [this.registry],
    });
  }

  observe(operation: string, code: string, seconds: number): void {
    const op = OPERATION_NAMES.has(operation) ? operation : UNKNOWN_LABEL;
    const result = code === 'OK' || isErrorCode(code) ? code : UNKNOWN_LABEL;
    this.requests.inc({ operation: op, code: result });
    this.latency.observe({ operation: op }, seconds);
  }
}
