import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSync } from '@grpc/proto-loader';
import type * as grpc from '@grpc/grpc-js';
import { adminClient, createKey } from '../lib/kms.js';
import { grpcAddress, grpcFrame, requireH2load, runH2load } from '../lib/h2load.js';
import { startKeyward } from '../lib/keyward.js';
import { repoRoot } from '../lib/paths.js';
import { profilesIn, selfTimes, totalTimes } from '../lib/profile.js';
import type { BenchContext, BenchRow, BenchScenario } from '../lib/types.js';

const BATCH = 100;

/**
 * `npm run bench -- --only profile-grpc`: unary gRPC Encrypt 32 B, then BatchEncrypt of 100 x 32 B,
 * each against its own server run with `node --cpu-prof` (default configuration, audit on), driven
 * by h2load as in the gRPC rows; writes each profile and its top self and total times to bench/results/.
 */
export const profileGrpc: BenchScenario = {
  name: 'Profile: gRPC unary Encrypt and BatchEncrypt (--cpu-prof)',
  optIn: true,
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    requireH2load();
    const defs = loadSync(['keyward/v1/kms.proto'], { keepCase: true, includeDirs: [join(repoRoot(), 'proto')] });
    const service = defs['keyward.v1.Kms'] as grpc.ServiceDefinition;
    const rows: BenchRow[] = [];
    const inFlight = ctx.connections;
    const conns = Math.min(5, inFlight);
    const streams = Math.ceil(inFlight / conns);
    for (const which of ['unary', 'batch'] as const) {
      const profDir = join(ctx.tmpDir, `prof-${which}`);
      rmSync(profDir, { recursive: true, force: true });
      mkdirSync(profDir);
      const kw = await startKeyward(ctx, { args: ['--grpc-listen', '127.0.0.1:0'], nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] });
      const kms = adminClient(kw);
      let rps = 0;
      try {
        const keyId = await createKey(kms);
        const address = await grpcAddress(kw.output);
        const headers = { 'content-type': 'application/grpc', te: 'trailers', authorization: `Bearer ${kw.admin.token}` };
        const run = (d: number) => which === 'unary'
          ? runH2load({ tmpDir: ctx.tmpDir, durationSec: d, url: `http://${address}/keyward.v1.Kms/Encrypt`, connections: conns, streams, headers,
            body: grpcFrame(service.Encrypt!.requestSerialize({ key_id: keyId, plaintext: Buffer.alloc(32, 0x61) })), minDataBytesPerResponse: 100 })
          : runH2load({ tmpDir: ctx.tmpDir, durationSec: d, url: `http://${address}/keyward.v1.Kms/BatchEncrypt`, connections: conns, streams: Math.max(1, Math.ceil(streams / 5)), headers,
            body: grpcFrame(service.BatchEncrypt!.requestSerialize({ key_id: keyId, items: Array.from({ length: BATCH }, () => ({ plaintext: Buffer.alloc(32, 0x61) })) })), minDataBytesPerResponse: BATCH * 100 });
        await run(2);
        rps = (await run(Math.max(ctx.durationSec, 5))).rps;
      } finally {
        kms.destroy();
        await kw.stop();
      }
      const [file] = profilesIn(profDir);
      if (file === undefined) throw new Error('the server wrote no CPU profile');
      const out = join(repoRoot(), 'bench', 'results');
      mkdirSync(out, { recursive: true });
      copyFileSync(file, join(out, `grpc-${which}.cpuprofile`));
      const fmt = (t: { fn: string; percent: number }) => `${t.percent.toFixed(1).padStart(5)}%  ${t.fn}`;
      const self = selfTimes(file).slice(0, 50);
      const total = totalTimes(file).slice(0, 80);
      writeFileSync(join(out, `grpc-${which}-profile.txt`), `self time\n${self.map(fmt).join('\n')}\n\ntotal time (self + callees)\n${total.map(fmt).join('\n')}\n`);
      for (const t of self.slice(0, 12)) ctx.log(`  ${which} ${fmt(t)}`);
      rows.push({
        scenario: which === 'unary' ? 'gRPC Encrypt 32 B under --cpu-prof' : `gRPC BatchEncrypt ${BATCH} x 32 B under --cpu-prof`,
        unit: which === 'unary' ? 'req/s' : 'items/s',
        value: Math.round(which === 'unary' ? rps : rps * BATCH),
        notes: `profile in bench/results/grpc-${which}.cpuprofile, top times in grpc-${which}-profile.txt`,
      });
    }
    return rows;
  },
};
