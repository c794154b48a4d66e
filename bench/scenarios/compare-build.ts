import { resolve } from 'node:path';
import { adminClient, createKey, encryptBody, encryptOnce } from '../lib/kms.js';
import { startKeyward, type KeywardInstance } from '../lib/keyward.js';
import { cpuMetered, processCpuSeconds } from '../lib/cpu.js';
import { runLoad } from '../lib/load.js';
import { interleaved, loadRow } from '../lib/measure.js';
import { signCalls, type KmsCall } from '../lib/sigv4.js';
import type { BenchContext, BenchRow, BenchScenario } from '../lib/types.js';

/**
 * `KEYWARD_BENCH_COMPARE_BIN=/other/checkout/bin/keyward.js npm run bench -- --only compare`:
 * Encrypt and Decrypt 32 B (SigV4) on this build and on another (built) checkout, in interleaved
 * rounds, to show what a change did. Each row also gives the server's CPU time per request (all
 * threads, /proc), which a shared machine disturbs far less than req/s.
 */
export const compareBuild: BenchScenario = {
  name: 'Compare with another build (KEYWARD_BENCH_COMPARE_BIN)',
  optIn: true,
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const other = process.env.KEYWARD_BENCH_COMPARE_BIN;
    if (other === undefined || other === '') throw new Error('set KEYWARD_BENCH_COMPARE_BIN to the other checkout\'s bin/keyward.js (built)');
    const servers: KeywardInstance[] = [await startKeyward(ctx, { bin: resolve(other) }), await startKeyward(ctx)];
    try {
      const calls: { encrypt: KmsCall; decrypt: KmsCall }[] = [];
      for (const s of servers) {
        const kms = adminClient(s);
        const keyId = await createKey(kms);
        const blob = await encryptOnce(kms, keyId, Buffer.alloc(32, 0x61));
        kms.destroy();
        calls.push({ encrypt: { operation: 'Encrypt', body: encryptBody(keyId, 32) }, decrypt: { operation: 'Decrypt', body: JSON.stringify({ CiphertextBlob: blob }) } });
      }
      const load = (i: number, op: 'encrypt' | 'decrypt') => {
        const s = servers[i]!;
        return cpuMetered(s.pid, async (d) => {
          const before = processCpuSeconds(s.pid);
          const r = await runLoad({ url: s.url, connections: ctx.connections, durationSec: d, calls: await signCalls(s.url, s.admin, [calls[i]![op]], s.admin.region) });
          ctx.log(`    ${i === 0 ? 'other' : 'this'} ${op}: ${Math.round((1e6 * (processCpuSeconds(s.pid) - before)) / Math.max(1, r.requests))} µs CPU per request`);
          return r;
        });
      };
      const subjects = { otherEncrypt: load(0, 'encrypt'), thisEncrypt: load(1, 'encrypt'), otherDecrypt: load(0, 'decrypt'), thisDecrypt: load(1, 'decrypt') };
      const m = await interleaved(ctx, {
        otherEncrypt: subjects.otherEncrypt.run,
        thisEncrypt: subjects.thisEncrypt.run,
        otherDecrypt: subjects.otherDecrypt.run,
        thisDecrypt: subjects.thisDecrypt.run,
      });
      const us = (k: keyof typeof subjects) => {
        const per = subjects[k].perCpuSecond();
        return per > 0 ? Math.round(1e6 / per) : 0;
      };
      const c = ctx.connections;
      return [
        loadRow(`Encrypt 32 B, SigV4, other build, ${c} conns`, m.otherEncrypt, { notes: `${us('otherEncrypt')} µs server CPU per request; ${other}` }),
        loadRow(`Encrypt 32 B, SigV4, this build, ${c} conns`, m.thisEncrypt, { baseline: { name: 'other build', value: m.otherEncrypt.rps }, notes: `${us('thisEncrypt')} µs server CPU per request` }),
        loadRow(`Decrypt 32 B, SigV4, other build, ${c} conns`, m.otherDecrypt, { notes: `${us('otherDecrypt')} µs server CPU per request` }),
        loadRow(`Decrypt 32 B, SigV4, this build, ${c} conns`, m.thisDecrypt, { baseline: { name: 'other build', value: m.otherDecrypt.rps }, notes: `${us('thisDecrypt')} µs server CPU per request` }),
      ];
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  },
};
