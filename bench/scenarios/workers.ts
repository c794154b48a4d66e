import { startBareServer } from '../lib/bare-server.js';
import { adminClient, createKey, encryptBody } from '../lib/kms.js';
import { startKeyward } from '../lib/keyward.js';
import { runLoad, type LoadResult } from '../lib/load.js';
import { interleaved, loadRow, type Measured } from '../lib/measure.js';
import { signCalls } from '../lib/sigv4.js';
import { round } from '../lib/stats.js';
import type { BenchContext, BenchRow, BenchScenario } from '../lib/types.js';

/**
 * Encrypt 32 B over SigV4 on one process and on `--workers 2` (node:cluster), against the bare
 * node:http baseline in the same interleaved rounds. On a 2-core machine the load generator
 * shares the cores with the workers, so this understates what two workers do with cores of their own.
 * Both with the default configuration (audit on) and with the audit log off. The goal is issue
 * 18's: `--workers 2` with the audit log on >= 1.3x one process.
 * `KEYWARD_BENCH_WORKERS_BIN=/other/checkout/bin/keyward.js` adds that build's `--workers 2`
 * and one process (audit on) to the same rounds: a before/after of one change on a loaded machine.
 */
export const workers: BenchScenario = {
  name: 'Workers: 1 process vs --workers 2',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const bare = await startBareServer();
    const single = await startKeyward(ctx);
    const cluster = await startKeyward(ctx, { args: ['--workers', '2'] });
    const singleNoAudit = await startKeyward(ctx, { env: { KEYWARD_AUDIT: 'off' } });
    const clusterNoAudit = await startKeyward(ctx, { args: ['--workers', '2'], env: { KEYWARD_AUDIT: 'off' } });
    const otherBin = process.env.KEYWARD_BENCH_WORKERS_BIN;
    const other = otherBin ? await startKeyward(ctx, { args: ['--workers', '2'], bin: otherBin }) : undefined;
    const otherSingle = otherBin ? await startKeyward(ctx, { bin: otherBin }) : undefined;
    const clients = [adminClient(single), adminClient(cluster), adminClient(singleNoAudit), adminClient(clusterNoAudit)];
    const otherClient = other ? adminClient(other) : undefined;
    const otherSingleClient = otherSingle ? adminClient(otherSingle) : undefined;
    try {
      const [k1, k2, k3, k4] = [await createKey(clients[0]!), await createKey(clients[1]!), await createKey(clients[2]!), await createKey(clients[3]!)];
      const k5 = otherClient ? await createKey(otherClient) : undefined;
      const k6 = otherSingleClient ? await createKey(otherSingleClient) : undefined;
      await new Promise((r) => setTimeout(r, 1000));
      const idle = cluster.rssMiB();
      const encrypt = async (url: string, creds: typeof single.admin, keyId: string, d: number) =>
        runLoad({ url, connections: ctx.connections, durationSec: d, calls: await signCalls(url, creds, [{ operation: 'Encrypt', body: encryptBody(keyId, 32) }], creds.region) });
      type Subject = 'baseline' | 'single' | 'workers2' | 'singleNoAudit' | 'workers2NoAudit' | 'workers2Other' | 'singleOther';
      const subjects: Partial<Record<Subject, (d: number) => Promise<LoadResult>>> = {
        baseline: (d) => encrypt(bare.url, single.admin, k1, d),
        single: (d) => encrypt(single.url, single.admin, k1, d),
        workers2: (d) => encrypt(cluster.url, cluster.admin, k2, d),
        singleNoAudit: (d) => encrypt(singleNoAudit.url, singleNoAudit.admin, k3, d),
        workers2NoAudit: (d) => encrypt(clusterNoAudit.url, clusterNoAudit.admin, k4, d),
        ...(other && k5 ? { workers2Other: (d: number) => encrypt(other.url, other.admin, k5, d) } : {}),
        ...(otherSingle && k6 ? { singleOther: (d: number) => encrypt(otherSingle.url, otherSingle.admin, k6, d) } : {}),
      };
      // another build's subject only when asked for (interleaved() runs the subjects it is given)
      const m = await interleaved(ctx, subjects as Record<Subject, (d: number) => Promise<LoadResult>>) as Record<Exclude<Subject, 'workers2Other' | 'singleOther'>, Measured> & Partial<Record<'workers2Other' | 'singleOther', Measured>>;
      const loaded = cluster.rssMiB();
      const baseline = { name: 'bare node:http', value: m.baseline.rps };
      const c = ctx.connections;
      return [
        loadRow(`Encrypt 32 B, SigV4, 1 process, ${c} conns (workers run)`, m.single, { baseline }),
        // issue 18's goal 2: two workers with the audit log on, against one process in the same rounds
        loadRow(`Encrypt 32 B, SigV4, --workers 2, ${c} conns`, m.workers2, { baseline: { name: '1 process', value: m.single.rps }, minRatio: 1.3, notes: `${round(m.workers2.rps / m.baseline.rps, 2)} of bare node:http; the load generator shares the 2 cores` }),
        loadRow(`Encrypt 32 B, SigV4, 1 process, audit off, ${c} conns (workers run)`, m.singleNoAudit, { baseline }),
        loadRow(`Encrypt 32 B, SigV4, --workers 2, audit off, ${c} conns`, m.workers2NoAudit, { baseline: { name: '1 process, audit off', value: m.singleNoAudit.rps }, notes: `${round(m.workers2NoAudit.rps / m.baseline.rps, 2)} of bare node:http` }),
        ...(m.singleOther ? [loadRow(`Encrypt 32 B, SigV4, 1 process, ${c} conns, ${otherBin}`, m.singleOther, { baseline, notes: `this build's 1 process: ${round(m.single.rps / m.singleOther.rps, 2)}x` })] : []),
        ...(m.workers2Other && m.singleOther ? [loadRow(`Encrypt 32 B, SigV4, --workers 2, ${c} conns, ${otherBin}`, m.workers2Other, { baseline, notes: `${round(m.workers2Other.rps / m.singleOther.rps, 2)}x its 1 process (this build: ${round(m.workers2.rps / m.single.rps, 2)}x)` })] : []),
        { scenario: 'RSS idle, --workers 2 (primary + 2 workers)', unit: 'MiB', value: round(idle, 1) },
        { scenario: 'RSS after load, --workers 2 (primary + 2 workers)', unit: 'MiB', value: round(loaded, 1), baseline: { name: 'idle', value: round(idle, 1) }, ratio: round(loaded / idle, 2) },
      ];
    } finally {
      for (const c of clients) c.destroy();
      otherClient?.destroy();
      otherSingleClient?.destroy();
      await Promise.all([single.stop(), cluster.stop(), singleNoAudit.stop(), clusterNoAudit.stop(), bare.stop(), other?.stop(), otherSingle?.stop()]);
    }
  },
};
