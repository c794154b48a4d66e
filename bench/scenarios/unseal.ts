import { startKeyward } from '../lib/keyward.js';
import { BENCH_PASSPHRASE } from '../lib/keyward.js';
import { median, round } from '../lib/stats.js';
import type { BenchContext, BenchRow, BenchScenario } from '../lib/types.js';

const GOAL_S = 0.25;

/**
 * Unseal time over HTTP (POST /v1/sys/unseal) with the passphrase seal at the default Argon2id
 * parameters (64 MiB, 3 iterations, 1 lane): the median of several unseal/seal cycles.
 */
export const unseal: BenchScenario = {
  name: 'Unseal time (passphrase, Argon2id defaults)',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const kw = await startKeyward(ctx, { sealed: true });
    try {
      const times: number[] = [];
      const cycles = Math.max(3, ctx.rounds * 2 + 1);
      for (let i = 0; i < cycles; i++) {
        const t0 = performance.now();
        const res = await fetch(`${kw.url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: BENCH_PASSPHRASE }) });
        const elapsed = (performance.now() - t0) / 1000;
        if (res.status !== 200) throw new Error(`unseal answered ${res.status}: ${await res.text()}`);
        times.push(elapsed);
        const sealed = await fetch(`${kw.url}/v1/sys/seal`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${kw.admin.token}` }, body: '{}' });
        if (sealed.status !== 200) throw new Error(`seal answered ${sealed.status}: ${await sealed.text()}`);
      }
      const value = median(times);
      return [{
        scenario: 'Unseal over HTTP, passphrase, Argon2id 64 MiB x 3',
        unit: 's',
        value: round(value, 3),
        goal: { text: `< ${GOAL_S} s`, met: value < GOAL_S },
        notes: `median of ${cycles}; min ${round(Math.min(...times), 3)} s, max ${round(Math.max(...times), 3)} s`,
      }];
    } finally {
      await kw.stop();
    }
  },
};
