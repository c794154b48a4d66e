import { describe, expect, it } from 'vitest';
import { runSoak, slopePerMinute } from './soak.js';

/**
 * `npm test` runs an 8-second smoke of the soak (samples every 2 s, checks only that nothing
 * fails); `npm run test:soak` sets KEYWARD_SOAK_SECONDS=600 and samples every 10 s, then judges
 * memory trend and p99 stability and prints the summary line.
 */
const seconds = Number(process.env.KEYWARD_SOAK_SECONDS ?? 0);
const long = seconds > 0;
// A heap that grows faster than this after warm-up, for ten minutes, is a leak to look at.
const MAX_HEAP_SLOPE_MB_PER_MIN = Number(process.env.KEYWARD_SOAK_MAX_SLOPE ?? 1);
const MAX_P99_RATIO = Number(process.env.KEYWARD_SOAK_MAX_P99_RATIO ?? 3);

describe('soak', () => {
  it('the slope is a least-squares fit in units per minute', () => {
    expect(slopePerMinute([{ x: 0, y: 10 }, { x: 30, y: 10.5 }, { x: 60, y: 11 }])).toBeCloseTo(1, 6);
    expect(slopePerMinute([{ x: 0, y: 5 }, { x: 60, y: 5 }])).toBe(0);
  });

  it(long ? `${seconds} s of mixed load: no errors, no memory growth, p99 stable` : 'smoke: 8 s of mixed load without an error', async () => {
    const report = await runSoak({
      durationMs: long ? seconds * 1000 : 8_000,
      sampleMs: long ? 10_000 : 2_000,
      ...(long ? { log: (l: string) => console.log(l) } : {}),
    });
    const checks = [
      { name: 'no errors', ok: report.errors === 0 },
      ...(long ? [
        { name: `heap slope below ${MAX_HEAP_SLOPE_MB_PER_MIN} MB/min`, ok: report.heapSlopeMBPerMin < MAX_HEAP_SLOPE_MB_PER_MIN },
        { name: `p99 ratio below ${MAX_P99_RATIO}`, ok: report.p99Ratio < MAX_P99_RATIO },
      ] : []),
    ];
    const passed = checks.filter((c) => c.ok).length;
    const p99s = report.intervals.map((i) => i.p99Ms);
    console.log(`soak: ${passed} passed, ${checks.length - passed} failed (${checks.map((c) => `${c.name}: ${c.ok ? 'ok' : 'FAILED'}`).join('; ')}); `
      + `${report.intervals.length} intervals, ${report.requests} requests, ${report.errors} errors, heap slope ${report.heapSlopeMBPerMin.toFixed(3)} MB/min, `
      + `rss slope ${report.rssSlopeMBPerMin.toFixed(3)} MB/min, p99 min/max ${Math.min(...p99s).toFixed(2)}/${Math.max(...p99s).toFixed(2)} ms, p99 last/first ${report.p99Ratio.toFixed(2)}`);
    expect(report.errorSamples).toEqual([]);
    expect(report.requests).toBeGreaterThan(100);
    expect(report.intervals.length).toBeGreaterThanOrEqual(long ? Math.floor(seconds / 10) - 1 : 3);
    expect(report.intervals.every((i) => Number.isFinite(i.heapMB) && i.heapMB > 0)).toBe(true);
    expect(checks.filter((c) => !c.ok).map((c) => c.name)).toEqual([]);
  }, (long ? seconds : 8) * 1000 + 60_000);
});
