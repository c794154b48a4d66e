import { resolve } from 'node:path';
import { adminClient, createKey, encryptBody, encryptOnce } from '../lib/kms.js';
import { startKeyward, type KeywardInstance } from '../lib/keyward.js';
import { runLoad } from '../lib/load.js';
import { interleaved, loadRow } from '../lib/measure.js';
import { signCalls, type KmsCall } from '../lib/sigv4.js';
import type { BenchContext, BenchRow, BenchScenario } from '../lib/types.js';

/**
 * `KEYWARD_BENCH_COMPARE_BIN=/other/checkout/bin/keyward.js npm run bench -- --only compare`:
 * Encrypt and Decrypt 32 B (SigV4) on this build and on another (built) checkout, in interleaved
 * rounds, to show what a change did.
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
      const load = async (i: number, op: 'encrypt' | 'decrypt', d: number) => {
        const s = servers[i]!;
        return runLoad({ url: s.url, connections: ctx.connections, durationSec: d, calls: await signCalls(s.url, s.admin, [calls[i]![op]], s.admin.region) });
      };
      const m = await interleaved(ctx, {
        otherEncrypt: (d) => load(0, 'encrypt', d),
        thisEncrypt: (d) => load(1, 'encrypt', d),
        otherDecrypt: (d) => load(0, 'decrypt', d),
        thisDecrypt: (d) => load(1, 'decrypt', d),
      });
      const c = ctx.connections;
      return [
        loadRow(`Encrypt 32 B, SigV4, other build, ${c} conns`, m.otherEncrypt, { notes: other }),
        loadRow(`Encrypt 32 B, SigV4, this build, ${c} conns`, m.thisEncrypt, { baseline: { name: 'other build', value: m.otherEncrypt.rps } }),
        loadRow(`Decrypt 32 B, SigV4, other build, ${c} conns`, m.otherDecrypt),
        loadRow(`Decrypt 32 B, SigV4, this build, ${c} conns`, m.thisDecrypt, { baseline: { name: 'other build', value: m.otherDecrypt.rps } }),
      ];
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  },
};
