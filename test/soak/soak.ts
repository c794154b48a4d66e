import { randomBytes, randomInt } from 'node:crypto';
import { rmSync } from 'node:fs';
import { callTarget } from '../helpers/keyward-api.js';
import { keyward, spawnKeyward } from '../helpers/process.js';
import { tempDir, TEST_PASSPHRASE } from '../helpers/server.js';

/**
 * Soak: a real `keyward server` under steady mixed load for a set time. Every `sampleMs` it
 * samples the server's heap and RSS (from /metrics) and the client-side latency of that interval.
 * The verdict: no errors, no memory growth trend (least-squares slope of heap after warm-up),
 * p99 stable (last third of intervals against the first third).
 */

export interface SoakOptions {
  readonly durationMs: number;
  readonly sampleMs: number;
  readonly concurrency?: number;
  readonly log?: (line: string) => void;
}

export interface SoakInterval {
  readonly atSeconds: number;
  readonly requests: number;
  readonly errors: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly heapMB: number;
  readonly rssMB: number;
}

export interface SoakReport {
  readonly intervals: SoakInterval[];
  readonly requests: number;
  readonly errors: number;
  readonly errorSamples: string[];
  /**
   * MB per minute, least squares after the first third (warm-up). The heap is a GC sawtooth, so
   * its slope is fitted to the minimum of each run of six samples (what survives collection).
   */
  readonly heapSlopeMBPerMin: number;
  readonly rssSlopeMBPerMin: number;
  /** Median p99 of the last third of intervals over that of the first third. */
  readonly p99Ratio: number;
}

const quantile = (sorted: number[], q: number) => sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const median = (xs: number[]) => quantile([...xs].sort((a, b) => a - b), 0.5);

export function slopePerMinute(points: Array<{ x: number; y: number }>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const num = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const den = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 60;
}

/** The lowest heap sample of each window of `size` consecutive intervals, at the window's end. */
export function windowMinima(intervals: SoakInterval[], size: number): Array<{ x: number; y: number }> {
  const out: Array<{ x: number; y: number }> = [];
  for (let i = 0; i + size <= intervals.length; i += size) {
    const w = intervals.slice(i, i + size);
    out.push({ x: w[w.length - 1]!.atSeconds, y: Math.min(...w.map((v) => v.heapMB)) });
  }
  return out.length >= 2 ? out : intervals.map((v) => ({ x: v.atSeconds, y: v.heapMB }));
}

async function memory(url: string): Promise<{ heapMB: number; rssMB: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(text)?.[1] ?? NaN) / 1024 / 1024;
  return { heapMB: read('keyward_nodejs_heap_size_used_bytes'), rssMB: read('keyward_process_resident_memory_bytes') };
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => undefined);
  const dataDir = tempDir('keyward-soak-');
  const env = { KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1', KEYWARD_LOG_LEVEL: 'warn', KEYWARD_RATE_LIMIT_PER_SECOND: '0', KEYWARD_PASSPHRASE: TEST_PASSPHRASE };
  const init = await keyward(['init', '--data-dir', dataDir, '--json'], env);
  if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
  const auth = { token: (JSON.parse(init.stdout) as { token: string }).token };
  const server = await spawnKeyward(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], env);
  const url = server.url;
  const intervals: SoakInterval[] = [];
  const errorSamples: string[] = [];
  let latencies: number[] = [];
  let requests = 0;
  let errors = 0;
  let intervalRequests = 0;
  let intervalErrors = 0;
  try {
    // Keys scheduled for deletion by the churn; a request that raced the scheduling may meet it.
    const retired = new Set<string>();
    const ok = async (target: string, body: unknown, key?: string) => {
      const t0 = performance.now();
      let r: Awaited<ReturnType<typeof callTarget>>;
      try {
        r = await callTarget(url, target, body, auth);
      } catch (e) {
        r = { status: 0, body: { __type: 'transport', message: (e as Error).message } };
      }
      latencies.push(performance.now() - t0);
      requests += 1;
      intervalRequests += 1;
      if (r.status !== 200 && key !== undefined && retired.has(key) && r.body.__type === 'KMSInvalidStateException') return undefined;
      if (r.status !== 200) {
        errors += 1;
        intervalErrors += 1;
        if (errorSamples.length < 10) errorSamples.push(`${target}: ${r.status} ${JSON.stringify(r.body)}`);
        return undefined;
      }
      return r.body;
    };
    // A bounded working set: keys are created and scheduled for deletion, so memory that grows
    // with the data would not be mistaken for a leak (nor hide one).
    const keys: string[] = [];
    const blobs: Array<{ key: string; blob: string; plaintext: string }> = [];
    for (let i = 0; i < 20; i++) {
      const meta = (await ok('TrentService.CreateKey', { Description: `soak ${i}` }))?.KeyMetadata as { KeyId: string } | undefined;
      if (meta) keys.push(meta.KeyId);
    }
    for (let i = 0; i < 5; i++) await ok('TrentService.CreateAlias', { AliasName: `alias/soak-${i}`, TargetKeyId: keys[i] });
    const started = performance.now();
    let stop = false;
    const worker = async () => {
      while (!stop) {
        const roll = randomInt(1000);
        const key = keys[randomInt(keys.length)]!;
        if (roll < 400) {
          const plaintext = randomBytes(randomInt(1, 512)).toString('base64');
          const r = await ok('TrentService.Encrypt', { KeyId: key, Plaintext: plaintext, EncryptionContext: { soak: 'yes' } }, key);
          if (r && !retired.has(key)) {
            blobs.push({ key, blob: r.CiphertextBlob as string, plaintext });
            if (blobs.length > 500) blobs.splice(0, blobs.length - 500);
          }
        } else if (roll < 700) {
          const b = blobs[randomInt(Math.max(1, blobs.length))];
          if (b === undefined) continue;
          const r = await ok('TrentService.Decrypt', { CiphertextBlob: b.blob, EncryptionContext: { soak: 'yes' } }, b.key);
          if (r && r.Plaintext !== b.plaintext) {
            errors += 1;
            intervalErrors += 1;
            errorSamples.push(`decrypt returned other bytes for a ciphertext of ${b.key}`);
          }
        } else if (roll < 850) {
          await ok('TrentService.GenerateDataKey', { KeyId: key, KeySpec: 'AES_256' }, key);
        } else if (roll < 910) {
          await ok('TrentService.DescribeKey', { KeyId: `alias/soak-${randomInt(5)}` });
        } else if (roll < 940) {
          await ok('TrentService.UpdateAlias', { AliasName: `alias/soak-${randomInt(5)}`, TargetKeyId: key }, key);
        } else if (roll < 960) {
          await ok('TrentService.ListKeys', { Limit: 50 });
        } else if (roll < 980) {
          await ok('TrentService.GenerateRandom', { NumberOfBytes: 32 });
        } else if (roll < 990) {
          // churn: a new key in, the oldest unaliased one scheduled for deletion
          const meta = (await ok('TrentService.CreateKey', { Description: 'soak churn' }))?.KeyMetadata as { KeyId: string } | undefined;
          if (meta) {
            keys.push(meta.KeyId);
            const old = keys.splice(5, 1)[0]!;
            retired.add(old);
            for (let i = blobs.length - 1; i >= 0; i--) if (blobs[i]!.key === old) blobs.splice(i, 1);
            await ok('TrentService.ScheduleKeyDeletion', { KeyId: old, PendingWindowInDays: 7 });
          }
        } else if (roll < 992) {
          await ok('TrentService.RotateKeyOnDemand', { KeyId: key }, key);
        } else {
          await ok('TrentService.ListAliases', {});
        }
      }
    };
    const workers = Array.from({ length: options.concurrency ?? 8 }, () => worker());
    while (performance.now() - started < options.durationMs) {
      await new Promise((r) => setTimeout(r, options.sampleMs));
      const sorted = [...latencies].sort((a, b) => a - b);
      const mem = await memory(url);
      const interval: SoakInterval = {
        atSeconds: Math.round((performance.now() - started) / 1000),
        requests: intervalRequests,
        errors: intervalErrors,
        p50Ms: quantile(sorted, 0.5),
        p99Ms: quantile(sorted, 0.99),
        ...mem,
      };
      intervals.push(interval);
      log(`soak t=${interval.atSeconds}s: ${interval.requests} requests (${(interval.requests / (options.sampleMs / 1000)).toFixed(0)}/s), ${interval.errors} errors, p50 ${interval.p50Ms.toFixed(2)} ms, p99 ${interval.p99Ms.toFixed(2)} ms, heap ${interval.heapMB.toFixed(1)} MB, rss ${interval.rssMB.toFixed(1)} MB`);
      latencies = [];
      intervalRequests = 0;
      intervalErrors = 0;
    }
    stop = true;
    await Promise.all(workers);
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const third = Math.max(1, Math.floor(intervals.length / 3));
  const after = intervals.slice(third);
  return {
    intervals,
    requests,
    errors,
    errorSamples,
    heapSlopeMBPerMin: slopePerMinute(windowMinima(after, 6)),
    rssSlopeMBPerMin: slopePerMinute(after.map((i) => ({ x: i.atSeconds, y: i.rssMB }))),
    p99Ratio: median(intervals.slice(-third).map((i) => i.p99Ms)) / Math.max(1e-9, median(intervals.slice(0, third).map((i) => i.p99Ms))),
  };
}
