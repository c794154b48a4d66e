import { join } from 'node:path';
import { encryptBody } from '../lib/kms.js';
import { startKeyward } from '../lib/keyward.js';
import { runLoad } from '../lib/load.js';
import { interleaved, loadRow } from '../lib/measure.js';
import { seedKeys } from '../lib/seed.js';
import { signCalls } from '../lib/sigv4.js';
import type { BenchContext, BenchRow, BenchScenario } from '../lib/types.js';

const KEYS = 10_000;
/** Caches smaller than the key set, so random keys mostly miss (the default material cache holds 10,000). */
const CACHE = 1000;
/** The audit log's commit would hide the key lookups this measures (the audit scenario measures it). */
const NO_AUDIT = { KEYWARD_AUDIT: 'off' };

/**
 * Encrypt under 10,000 distinct keys in random order with the key caches capped at 1,000 entries
 * (about 90% misses: each miss reads and decrypts the key record and unwraps its material)
 * against one warm key on the same server. Both loads pick their request at random per request,
 * so the load generator does the same work for each. Audit off: its commit would hide the lookups.
 */
export const coldPath: BenchScenario = {
  name: 'Cold path: 10,000 keys in random order vs one warm key',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const seeded = await seedKeys(join(ctx.tmpDir, 'data'), KEYS, { log: ctx.log });
    ctx.log(`seeded ${KEYS} keys in ${seeded.seconds.toFixed(1)} s`);
    const kw = await startKeyward(ctx, {
      dataDir: seeded.dataDir, admin: seeded.admin,
      env: { KEYWARD_MATERIAL_CACHE_MAX: String(CACHE), KEYWARD_METADATA_CACHE_MAX: String(CACHE), ...NO_AUDIT },
    });
    try {
      const all = seeded.keyIds.map((k) => ({ operation: 'Encrypt', body: encryptBody(k, 32) }));
      const sign = (calls: typeof all) => signCalls(kw.url, kw.admin, calls, kw.admin.region);
      const load = async (calls: typeof all, d: number) => runLoad({ url: kw.url, connections: ctx.connections, durationSec: d, calls: await sign(calls), random: true });
      const m = await interleaved(ctx, {
        warm: (d) => load(all.slice(0, 1), d),
        cold: (d) => load(all, d),
      });
      const c = ctx.connections;
      return [
        loadRow(`Encrypt 32 B, one warm key, ${c} conns`, m.warm),
        loadRow(`Encrypt 32 B, ${KEYS.toLocaleString('en-US')} keys random (caches ${CACHE}), ${c} conns`, m.cold, {
          baseline: { name: 'one warm key', value: m.warm.rps },
          notes: `~${Math.round((1 - CACHE / KEYS) * 100)}% cache misses; audit off`,
        }),
      ];
    } finally {
      await kw.stop();
    }
  },
};
