import { readdirSync, readFileSync } from 'node:fs';
import { clockTicksPerSecond } from '../lib/cpu.js';
import { adminClient, createKey, encryptBody } from '../lib/kms.js';
import { startKeyward, type KeywardInstance } from '../lib/keyward.js';
import { runLoad, type LoadResult } from '../lib/load.js';
import { interleaved, loadRow } from '../lib/measure.js';
import { signCalls } from '../lib/sigv4.js';
import type { BenchContext, BenchRow, BenchScenario } from '../lib/types.js';

/**
 * `npm run bench -- --only thread-cpu`: Encrypt 32 B (SigV4) on one process and on `--workers 2`,
 * audit log on and off, and with the audit commit delay the other way round from each one's
 * default, with the server's CPU time per request split by thread (/proc/PID/task:
 * each process's event loop, its SQLite write thread, the cluster primary). Says where a request's
 * CPU goes when the rates alone cannot tell (issue 18, goal 2). `KEYWARD_BENCH_SUBJECTS=single,workers2`
 * runs only the subjects named (more rounds of fewer subjects in the same time);
 * `KEYWARD_BENCH_WORKERS_BIN=/other/checkout/bin/keyward.js` adds that build's `--workers 2` and
 * one process (workers2Other, singleOther); `KEYWARD_BENCH_DELAYS=2,4` adds `--workers 2` servers
 * with those audit commit delays in ms (workers2Delay2, workers2Delay4).
 */
export const threadCpu: BenchScenario = {
  name: 'Thread CPU: Encrypt by thread, one process and two (cluster)',
  optIn: true,
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const otherBin = process.env.KEYWARD_BENCH_WORKERS_BIN;
    const servers: Record<string, KeywardInstance> = {
      single: await startKeyward(ctx),
      singleNoAudit: await startKeyward(ctx, { env: { KEYWARD_AUDIT: 'off' } }),
      workers2: await startKeyward(ctx, { args: ['--workers', '2'] }),
      workers2NoAudit: await startKeyward(ctx, { args: ['--workers', '2'], env: { KEYWARD_AUDIT: 'off' } }),
      // the audit commit delay the other way round from each one's default (1 ms with --workers, 0 without)
      singleDelay1: await startKeyward(ctx, { env: { KEYWARD_AUDIT_COMMIT_DELAY_MS: '1' } }),
      workers2NoDelay: await startKeyward(ctx, { args: ['--workers', '2'], env: { KEYWARD_AUDIT_COMMIT_DELAY_MS: '0' } }),
      // KEYWARD_BENCH_DELAYS=2,4: --workers 2 with those audit commit delays (ms) too
      ...Object.fromEntries(await Promise.all((process.env.KEYWARD_BENCH_DELAYS?.split(',') ?? []).map(async (ms) => [`workers2Delay${ms}`, await startKeyward(ctx, { args: ['--workers', '2'], env: { KEYWARD_AUDIT_COMMIT_DELAY_MS: ms } })]))),
      // another build's --workers 2 and one process, as in the workers scenario (a before/after)
      ...(otherBin ? { workers2Other: await startKeyward(ctx, { args: ['--workers', '2'], bin: otherBin }), singleOther: await startKeyward(ctx, { bin: otherBin }) } : {}),
    };
    const counted: Record<string, { requests: number; cpu: Map<string, number> }> = {};
    const subjects: Record<string, (d: number) => Promise<LoadResult>> = {};
    try {
      for (const [name, s] of Object.entries(servers)) {
        const kms = adminClient(s);
        const keyId = await createKey(kms);
        kms.destroy();
        const calls = await signCalls(s.url, s.admin, [{ operation: 'Encrypt', body: encryptBody(keyId, 32) }], s.admin.region);
        const tally = { requests: 0, cpu: new Map<string, number>() };
        counted[name] = tally;
        let warmedUp = false;
        subjects[name] = async (d) => {
          const before = threadCpuSeconds(s.pid);
          const r = await runLoad({ url: s.url, connections: ctx.connections, durationSec: d, calls });
          const after = threadCpuSeconds(s.pid);
          // the first call is interleaved()'s warm-up
          if (warmedUp) {
            tally.requests += r.requests;
            for (const [thread, t] of after) tally.cpu.set(thread, (tally.cpu.get(thread) ?? 0) + t - (before.get(thread) ?? 0));
          }
          warmedUp = true;
          return r;
        };
      }
      const only = process.env.KEYWARD_BENCH_SUBJECTS?.split(',');
      const m = await interleaved(ctx, only ? Object.fromEntries(Object.entries(subjects).filter(([k]) => only.includes(k))) : subjects);
      const c = ctx.connections;
      return Object.entries(m).map(([name, measured]) => {
        const t = counted[name]!;
        const per = [...t.cpu].filter(([, s]) => s > 0).map(([thread, s]) => `${thread} ${Math.round((1e6 * s) / t.requests)}`);
        const total = [...t.cpu.values()].reduce((a, b) => a + b, 0);
        return loadRow(`Encrypt 32 B, SigV4, ${name}, ${c} conns`, measured, { notes: `server CPU µs per request: ${Math.round((1e6 * total) / t.requests)} (${per.join(', ')})` });
      });
    } finally {
      await Promise.all(Object.values(servers).map((s) => s.stop()));
    }
  },
};

/**
 * CPU seconds per thread of `pid` and of its child processes (the cluster's workers), named
 * `main` (the event loop), `threads` (Node worker threads: the SQLite write thread) or the
 * kernel's thread name (libuv's pool, V8's), each prefixed by `wN.` for the Nth worker and
 * `primary.` for the primary when it has workers.
 */
function threadCpuSeconds(pid: number, prefix?: string): Map<string, number> {
  const out = new Map<string, number>();
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  const own = prefix ?? (children.length > 0 ? 'primary.' : '');
  children.forEach((child, i) => {
    for (const [thread, t] of threadCpuSeconds(Number(child), `w${i + 1}.`)) out.set(thread, t);
  });
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    const seconds = (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond();
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const name = tid === String(pid) ? 'main' : comm === 'node' ? 'threads' : comm;
    out.set(`${own}${name}`, (out.get(`${own}${name}`) ?? 0) + seconds);
  }
  return out;
}
