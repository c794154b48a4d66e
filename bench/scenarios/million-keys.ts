import { join } from 'node:path';
import { encryptBody } from '../lib/kms.js';
import { startKeyward } from '../lib/keyward.js';
import { runLoad } from '../lib/load.js';
import { interleaved, loadRow } from '../lib/measure.js';
import { cachedSeed, seedKeys } from '../lib/seed.js';
import { signCalls } from '../lib/sigv4.js';
import type { BenchContext, BenchRow, BenchScenario } from '../lib/types.js';

const FULL = 1_000_000;
/** The quick run cannot seed a million keys in its two minutes. */
const QUICK = 20_000;
const HOT = 10;
/** The audit log's commit would hide the key lookups this measures (the audit scenario measures it). */
const NO_AUDIT = { KEYWARD_AUDIT: 'off' };

/**
 * Warm Encrypt over 10 keys on a store holding a million keys against a store holding only those
 * 10 (goal: within 0.9). The big store is seeded in-process through the keyring API, 10,000 keys
 * per SQLite transaction, and kept in bench/.cache for later runs.
 */
export const millionKeys: BenchScenario = {
  name: 'Store size: 1,000,000 keys vs 10 keys, warm Encrypt',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const count = ctx.quick ? QUICK : FULL;
    const big = ctx.quick ? { ...(await seedKeys(join(ctx.tmpDir, 'big'), count, { keepIds: HOT, log: ctx.log })), cached: false } : await cachedSeed(count, { keepIds: HOT, log: ctx.log });
    ctx.log(big.cached ? `using the cached ${count}-key store` : `seeded ${count} keys in ${big.seconds.toFixed(1)} s`);
    const small = await seedKeys(join(ctx.tmpDir, 'small'), HOT);
    const servers = [
      await startKeyward(ctx, { dataDir: small.dataDir, admin: small.admin, env: NO_AUDIT }),
      await startKeyward(ctx, { dataDir: big.dataDir, admin: big.admin, env: NO_AUDIT }),
    ] as const;
    try {
      const load = async (i: 0 | 1, keyIds: readonly string[], d: number) => {
        const s = servers[i];
        const calls = await signCalls(s.url, s.admin, keyIds.map((k) => ({ operation: 'Encrypt', body: encryptBody(k, 32) })), s.admin.region);
        return runLoad({ url: s.url, connections: ctx.connections, durationSec: d, calls });
      };
      const m = await interleaved(ctx, {
        small: (d) => load(0, small.keyIds, d),
        big: (d) => load(1, big.keyIds, d),
      });
      const label = count.toLocaleString('en-US');
      return [
        loadRow(`Encrypt 32 B over ${HOT} keys, store of ${HOT} keys, ${ctx.connections} conns`, m.small),
        loadRow(`Encrypt 32 B over ${HOT} keys, store of ${label} keys, ${ctx.connections} conns`, m.big, {
          baseline: { name: `store of ${HOT} keys`, value: m.small.rps },
          minRatio: 0.9,
          notes: ctx.quick ? `audit off; quick run: ${label} keys, not ${FULL.toLocaleString('en-US')}` : 'audit off',
        }),
      ];
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  },
};
