import type * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { join, resolve } from 'node:path';
import { cpuMetered } from '../lib/cpu.js';
import { adminClient, createKey } from '../lib/kms.js';
import { grpcAddress, grpcFrame, requireH2load, runH2load } from '../lib/h2load.js';
import { startKeyward, type KeywardInstance } from '../lib/keyward.js';
import type { LoadResult } from '../lib/load.js';
import { interleaved } from '../lib/measure.js';
import { repoRoot } from '../lib/paths.js';
import { round } from '../lib/stats.js';
import type { BenchContext, BenchRow, BenchScenario } from '../lib/types.js';

const BATCH = 100;

/**
 * `KEYWARD_BENCH_GRPC_BIN=/other/checkout/bin/keyward.js npm run bench -- --only grpc-compare`:
 * the gRPC rows (HTTP Encrypt, unary gRPC Encrypt, BatchEncrypt 100 x 32 B; h2load, 50 in flight)
 * against this build and another one, all six interleaved round by round in one run, so a change's
 * effect on the two ratios is not lost in the noise of a shared machine.
 */
export const grpcCompare: BenchScenario = {
  name: 'gRPC vs HTTP, this build vs another (KEYWARD_BENCH_GRPC_BIN)',
  optIn: true,
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    requireH2load();
    const other = process.env.KEYWARD_BENCH_GRPC_BIN;
    if (other === undefined || other === '') throw new Error('set KEYWARD_BENCH_GRPC_BIN to the other checkout\'s bin/keyward.js (built)');
    const defs = loadSync(['keyward/v1/kms.proto'], { keepCase: true, includeDirs: [join(repoRoot(), 'proto')] });
    const service = defs['keyward.v1.Kms'] as grpc.ServiceDefinition;
    const servers: KeywardInstance[] = [];
    try {
      servers.push(await startKeyward(ctx, { args: ['--grpc-listen', '127.0.0.1:0'], bin: resolve(other) }));
      servers.push(await startKeyward(ctx, { args: ['--grpc-listen', '127.0.0.1:0'] }));
      const subjects: Record<string, (d: number) => Promise<LoadResult>> = {};
      const perCpu: Record<string, () => number> = {};
      const conns = Math.min(5, ctx.connections);
      const streams = Math.ceil(ctx.connections / conns);
      for (const [label, kw] of [['other', servers[0]!], ['this', servers[1]!]] as const) {
        const kms = adminClient(kw);
        const keyId = await createKey(kms);
        kms.destroy();
        const address = await grpcAddress(kw.output);
        const grpcHeaders = { 'content-type': 'application/grpc', te: 'trailers', authorization: `Bearer ${kw.admin.token}` };
        const common = { tmpDir: ctx.tmpDir };
        const metered = (name: string, run: (d: number) => Promise<LoadResult>) => {
          const c = cpuMetered(kw.pid, run);
          subjects[`${label} ${name}`] = c.run;
          perCpu[`${label} ${name}`] = c.perCpuSecond;
        };
        metered('http', (d) => runH2load({
          ...common, durationSec: d, url: `${kw.url}/`, h1: true, connections: ctx.connections,
          headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.Encrypt', authorization: `Bearer ${kw.admin.token}` },
          body: Buffer.from(JSON.stringify({ KeyId: keyId, Plaintext: Buffer.alloc(32, 0x61).toString('base64') })),
        }));
        metered('grpc', (d) => runH2load({
          ...common, durationSec: d, url: `http://${address}/keyward.v1.Kms/Encrypt`, connections: conns, streams, headers: grpcHeaders,
          body: grpcFrame(service.Encrypt!.requestSerialize({ key_id: keyId, plaintext: Buffer.alloc(32, 0x61) })), minDataBytesPerResponse: 100,
        }));
        metered('batch', (d) => runH2load({
          ...common, durationSec: d, url: `http://${address}/keyward.v1.Kms/BatchEncrypt`, connections: conns, streams: Math.max(1, Math.ceil(streams / 5)), headers: grpcHeaders,
          body: grpcFrame(service.BatchEncrypt!.requestSerialize({ key_id: keyId, items: Array.from({ length: BATCH }, () => ({ plaintext: Buffer.alloc(32, 0x61) })) })),
          minDataBytesPerResponse: BATCH * 100,
        }));
      }
      const m = await interleaved(ctx, subjects);
      const rows: BenchRow[] = [];
      for (const label of ['other', 'this']) {
        const http = m[`${label} http`]!.rps;
        const unary = m[`${label} grpc`]!.rps;
        const items = m[`${label} batch`]!.rps * BATCH;
        rows.push({
          scenario: `${label === 'this' ? 'this build' : `other build (${other})`}: unary gRPC Encrypt 32 B vs HTTP`, unit: 'req/s', value: Math.round(unary),
          baseline: { name: 'HTTP Encrypt 32 B, same build', value: Math.round(http) }, ratio: round(unary / http, 3),
        });
        rows.push({
          scenario: `${label === 'this' ? 'this build' : 'other build'}: BatchEncrypt ${BATCH} x 32 B vs unary gRPC`, unit: 'items/s', value: Math.round(items),
          baseline: { name: 'unary gRPC Encrypt req/s, same build', value: Math.round(unary) }, ratio: round(items / unary, 2),
          notes: `${round(items / http, 2)}x HTTP Encrypt req/s`,
        });
        // per second of server CPU: the paths' cost, far less disturbed by the machine's other work
        const cpuHttp = perCpu[`${label} http`]!();
        const cpuUnary = perCpu[`${label} grpc`]!();
        const cpuItems = perCpu[`${label} batch`]!() * BATCH;
        const who = label === 'this' ? 'this build' : 'other build';
        rows.push({
          scenario: `${who}: unary gRPC Encrypt vs HTTP, per second of server CPU`, unit: 'req/s', value: Math.round(cpuUnary),
          baseline: { name: 'HTTP Encrypt per CPU-second, same build', value: Math.round(cpuHttp) }, ratio: round(cpuUnary / cpuHttp, 3),
          notes: `${Math.round(1e6 / cpuUnary)} µs per gRPC call, ${Math.round(1e6 / cpuHttp)} µs per HTTP request`,
        });
        rows.push({
          scenario: `${who}: BatchEncrypt items vs unary gRPC, per second of server CPU`, unit: 'items/s', value: Math.round(cpuItems),
          baseline: { name: 'unary gRPC per CPU-second, same build', value: Math.round(cpuUnary) }, ratio: round(cpuItems / cpuUnary, 2),
          notes: `${round(1e6 / cpuItems, 1)} µs per item`,
        });
      }
      return rows;
    } finally {
      for (const s of servers) await s.stop();
    }
  },
};
