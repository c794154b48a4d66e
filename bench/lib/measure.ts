import type { BenchContext, BenchRow } from './types.js';
import type { LoadResult } from './load.js';
import { median, round } from './stats.js';

export interface Measured {
  /** Median requests/s over the rounds. */
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly rounds: readonly LoadResult[];
}

function summarize(rounds: readonly LoadResult[]): Measured {
  return {
    rps: median(rounds.map((r) => r.rps)),
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    rounds,
  };
}

/**
 * Measures several subjects in interleaved rounds (round 1: A, B, C; round 2: A, B, C; ...) so a
 * burst of other work on the machine hits them alike, and reports the median of each.
 */
export async function interleaved<K extends string>(ctx: BenchContext, subjects: Readonly<Record<K, (durationSec: number) => Promise<LoadResult>>>): Promise<Record<K, Measured>> {
  const names = Object.keys(subjects) as K[];
  const results = Object.fromEntries(names.map((n) => [n, [] as LoadResult[]])) as unknown as Record<K, LoadResult[]>;
  // a short unmeasured warm-up each (JIT, caches, connection pools)
  for (const n of names) await subjects[n](ctx.quick ? 1 : 2);
  for (let r = 0; r < ctx.rounds; r++) {
    for (const n of names) {
      const res = await subjects[n](ctx.durationSec);
      ctx.log(`  round ${r + 1}/${ctx.rounds} ${n}: ${Math.round(res.rps)} req/s, p99 ${res.p99Ms} ms`);
      results[n].push(res);
    }
  }
  return Object.fromEntries(names.map((n) => [n, summarize(results[n])])) as unknown as Record<K, Measured>;
}

export interface RowOptions {
  readonly baseline?: { readonly name: string; readonly value: number };
  /** Goal on the ratio to the baseline: met when ratio >= minRatio. */
  readonly minRatio?: number;
  /** Goal on p99 latency: met when p99 < maxP99Ms. */
  readonly maxP99Ms?: number;
  readonly notes?: string;
}

/** A req/s row with latency, the baseline ratio and the goal (ratio and/or p99), from a measurement. */
export function loadRow(scenario: string, m: Measured, o: RowOptions = {}): BenchRow {
  const ratio = o.baseline && o.baseline.value > 0 ? round(m.rps / o.baseline.value, 3) : undefined;
  const goals: string[] = [];
  let met = true;
  if (o.minRatio !== undefined && ratio !== undefined) {
    goals.push(`ratio >= ${o.minRatio}`);
    met &&= ratio >= o.minRatio;
  }
  if (o.maxP99Ms !== undefined) {
    goals.push(`p99 < ${o.maxP99Ms} ms`);
    met &&= m.p99Ms < o.maxP99Ms;
  }
  return {
    scenario,
    unit: 'req/s',
    value: Math.round(m.rps),
    p50Ms: m.p50Ms,
    p99Ms: m.p99Ms,
    ...(o.baseline ? { baseline: { name: o.baseline.name, value: Math.round(o.baseline.value) } } : {}),
    ...(ratio !== undefined ? { ratio } : {}),
    ...(goals.length > 0 ? { goal: { text: goals.join(' and '), met } } : {}),
    ...(o.notes !== undefined ? { notes: o.notes } : {}),
  };
}
