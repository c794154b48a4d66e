import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one process: request counts by operation and outcome, latency. */
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
    this.requests.inc({ operation, code });
    this.latency.observe({ operation }, seconds);
  }
}
