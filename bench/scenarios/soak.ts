import { adminClient, createKey, encryptBody } from '../lib/kms.js';
import { startKeyward } from '../lib/keyward.js';
import { runLoad, type LoadResult } from '../lib/load.js';
import { signCalls } from '../lib/sigv4.js';
import { median, round } from '../lib/stats.js';
import type { BenchContext, BenchRow, BenchScenario } from '../lib/types.js';

const SEGMENT_SEC = 60;

/**
 * `npm run bench -- --soak`: five minutes of Encrypt 32 B at 50 connections (one minute with
 * --quick), RSS sampled every 5 s. Goals: idle RSS under 120 MiB and no growth: RSS at the end of
 * the load within 10% of RSS after the first minute. Load runs in one-minute segments so each
 * is freshly signed (SigV4 signatures are valid for 5 minutes).
 */
export const soak: BenchScenario = {
  name: 'Soak: RSS over a 5-minute Encrypt load',
  optIn: true,
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const totalSec = ctx.quick ? 60 : 300;
    const kw = await startKeyward(ctx);
    const kms = adminClient(kw);
    try {
      const keyId = await createKey(kms);
      await new Promise((r) => setTimeout(r, 2000));
      const idleBefore = kw.rssMiB();
      const samples: { t: number; rss: number }[] = [];
      const t0 = Date.now();
      const sampler = setInterval(() => samples.push({ t: (Date.now() - t0) / 1000, rss: kw.rssMiB() }), 5000);
      const segments: LoadResult[] = [];
      try {
        for (let done = 0; done < totalSec; done += SEGMENT_SEC) {
          const d = Math.min(SEGMENT_SEC, totalSec - done);
          const calls = await signCalls(kw.url, kw.admin, [{ operation: 'Encrypt', body: encryptBody(keyId, 32) }], kw.admin.region);
          const r = await runLoad({ url: kw.url, connections: ctx.connections, durationSec: d, calls });
          segments.push(r);
          ctx.log(`  ${done + d} s: ${Math.round(r.rps)} req/s, p99 ${r.p99Ms} ms, RSS ${round(kw.rssMiB(), 1)} MiB`);
        }
      } finally {
        clearInterval(sampler);
      }
      const endRss = kw.rssMiB();
      await new Promise((r) => setTimeout(r, 10_000));
      const idleAfter = kw.rssMiB();
      const afterFirstMinute = median(samples.filter((s) => s.t >= 50 && s.t <= 70).map((s) => s.rss).concat(samples.length > 0 ? [] : [endRss]));
      const max = Math.max(...samples.map((s) => s.rss), endRss);
      const growth = endRss / afterFirstMinute;
      const rps = median(segments.map((s) => s.rps));
      return [
        { scenario: `Soak: Encrypt 32 B, ${totalSec} s, ${ctx.connections} conns`, unit: 'req/s', value: Math.round(rps), p50Ms: median(segments.map((s) => s.p50Ms)), p99Ms: Math.max(...segments.map((s) => s.p99Ms)), notes: `median of ${segments.length} one-minute segments; p99 is the worst segment` },
        { scenario: 'Soak: RSS idle before the load', unit: 'MiB', value: round(idleBefore, 1), goal: { text: '< 120 MiB', met: idleBefore < 120 } },
        { scenario: 'Soak: RSS at the end of the load', unit: 'MiB', value: round(endRss, 1), baseline: { name: 'RSS after the first minute', value: round(afterFirstMinute, 1) }, ratio: round(growth, 3), goal: { text: 'ratio <= 1.1 (no growth)', met: growth <= 1.1 }, notes: `max ${round(max, 1)} MiB over ${samples.length} samples` },
        { scenario: 'Soak: RSS idle 10 s after the load', unit: 'MiB', value: round(idleAfter, 1), goal: { text: '< 120 MiB', met: idleAfter < 120 } },
      ];
    } finally {
      kms.destroy();
      await kw.stop();
    }
  },
};
