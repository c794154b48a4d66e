/**
 * The contract between `npm run bench` (bench/run.ts) and its scenarios (bench/scenarios/*.ts).
 * Every figure is measured in the same run as its baseline and reported as a ratio to it,
 * because this machine is shared and noisy: absolute numbers are for context only.
 */
export interface BenchRow {
  /** Unique, human-readable: "Encrypt 32 B, SigV4, 1 process". */
  readonly scenario: string;
  readonly unit: 'req/s' | 'items/s' | 'MiB/s' | 'ops/s' | 'ms' | 's' | 'MiB' | 'calls';
  /** Median over rounds. */
  readonly value: number;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  /** The same-run reference this figure is compared with. */
  readonly baseline?: { readonly name: string; readonly value: number };
  /** value / baseline.value. */
  readonly ratio?: number;
  /** The target from the issue, and whether this run met it. */
  readonly goal?: { readonly text: string; readonly met: boolean };
  readonly notes?: string;
}

export interface BenchContext {
  /** `npm run bench -- --quick`: the whole run must finish in under two minutes. */
  readonly quick: boolean;
  /** Rounds per measurement (the median is reported). */
  readonly rounds: number;
  /** Seconds per load round. */
  readonly durationSec: number;
  /** Concurrent connections for HTTP load. */
  readonly connections: number;
  /** A scratch directory removed after the run. */
  readonly tmpDir: string;
  log(message: string): void;
}

export interface BenchScenario {
  readonly name: string;
  /** Runs only when named by `--only` (or `--soak` for soak scenarios): long or special-purpose runs. */
  readonly optIn?: boolean;
  run(ctx: BenchContext): Promise<BenchRow[]>;
}
