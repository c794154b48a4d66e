import autocannon from 'autocannon';
import type { HttpCall } from './sigv4.js';

export interface LoadOptions {
  readonly url: string;
  readonly connections: number;
  readonly durationSec: number;
  /** Sent in turn by each connection; with `random`, each request picks one at random. */
  readonly calls: readonly HttpCall[];
  /** Pick a random call per request (e.g. 10,000 keys in random order); costs the load generator a rebuild per request. */
  readonly random?: boolean;
}

export interface LoadResult {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
}

/**
 * Runs autocannon (as a library, keep-alive, no pipelining) and checks every answer was 2xx:
 * a figure made of errors is worse than none, so a failing round throws.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { calls } = options;
  if (calls.length === 0) throw new Error('runLoad: no calls');
  await probe(options.url, calls[0]!);
  const requests: autocannon.Request[] = options.random
    ? [{
      method: 'POST',
      setupRequest: (req) => {
        const c = calls[Math.floor(Math.random() * calls.length)]!;
        return { ...req, method: 'POST', path: '/', headers: c.headers, body: c.body };
      },
    }]
    : calls.map((c) => ({ method: 'POST', path: '/', headers: c.headers, body: c.body }));
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationSec,
    pipelining: 1,
    requests,
  });
  const failed = result.non2xx + result.errors + result.timeouts;
  if (failed > 0) {
    throw new Error(`load against ${options.url}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts of ${result.requests.total}`);
  }
  return { rps: result.requests.average, p50Ms: result.latency.p50, p99Ms: result.latency.p99, requests: result.requests.total };
}

/** One request before the load, so a wrong signature fails with the server's message rather than a count. */
export async function probe(url: string, call: HttpCall): Promise<void> {
  const headers = { ...call.headers };
  delete headers.host;
  const res = await fetch(`${url}/`, { method: 'POST', headers, body: call.body });
  const text = await res.text();
  if (res.status < 200 || res.status > 299) throw new Error(`probe of ${url} answered ${res.status}: ${text.slice(0, 300)}`);
}

export interface CountedLoadResult {
  /** 2xx answers per second. */
  readonly okRps: number;
  readonly ok: number;
  /** Answers that were not 2xx (e.g. ThrottlingException), errors and timeouts. */
  readonly refused: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/**
 * Like runLoad, but refusals are counted rather than fatal (a tenant pushed past its rate limit),
 * and `overallRate` caps the offered load in requests/s across all connections (0: as fast as the
 * server answers).
 */
export async function runCountedLoad(options: LoadOptions & { readonly overallRate?: number }): Promise<CountedLoadResult> {
  const { calls } = options;
  if (calls.length === 0) throw new Error('runCountedLoad: no calls');
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationSec,
    pipelining: 1,
    ...(options.overallRate ? { overallRate: options.overallRate } : {}),
    requests: calls.map((c) => ({ method: 'POST', path: '/', headers: c.headers, body: c.body })),
  });
  const ok = result['2xx'];
  return {
    okRps: ok / options.durationSec,
    ok,
    refused: result.non2xx + result.errors + result.timeouts,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
  };
}
