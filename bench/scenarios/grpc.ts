import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { join } from 'node:path';
import { cpuMetered } from '../lib/cpu.js';
import { adminClient, createKey } from '../lib/kms.js';
import { grpcAddress, grpcFrame, requireH2load, runH2load } from '../lib/h2load.js';
import { startKeyward } from '../lib/keyward.js';
import { interleaved, loadRow } from '../lib/measure.js';
import { repoRoot } from '../lib/paths.js';
import { round } from '../lib/stats.js';
import type { BenchContext, BenchRow, BenchScenario } from '../lib/types.js';

const BATCH = 100;

/**
 * gRPC against the AWS JSON protocol on one process, both driven by h2load with the same number of
 * requests in flight: Encrypt 32 B unary over gRPC vs over HTTP (bearer token on both; SigV4 is an
 * HTTP scheme), and BatchEncrypt of 100 x 32-byte items (items/s) vs unary gRPC Encrypt (req/s).
 * Default configuration (audit log on: every item is its own audit record).
 */
export const grpcScenario: BenchScenario = {
  name: 'gRPC vs HTTP, 1 process',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    requireH2load();
    const kw = await startKeyward(ctx, { args: ['--grpc-listen', '127.0.0.1:0'] });
    const kms = adminClient(kw);
    try {
      const address = await grpcAddress(kw.output);
      const keyId = await createKey(kms);
      const defs = loadSync(['keyward/v1/kms.proto'], { keepCase: true, includeDirs: [join(repoRoot(), 'proto')] });
      const service = defs['keyward.v1.Kms'] as grpc.ServiceDefinition;
      const encrypt = { key_id: keyId, plaintext: Buffer.alloc(32, 0x61) };
      const batch = { key_id: keyId, items: Array.from({ length: BATCH }, () => ({ plaintext: Buffer.alloc(32, 0x61) })) };
      await probe(address, kw.admin.token, service, encrypt, batch);
      const grpcHeaders = { 'content-type': 'application/grpc', te: 'trailers', authorization: `Bearer ${kw.admin.token}` };
      const httpHeaders = { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.Encrypt', authorization: `Bearer ${kw.admin.token}` };
      const inFlight = ctx.connections;
      // gRPC clients multiplex: 5 connections x (in flight / 5) streams; HTTP/1.1: one request per connection
      const grpcConnections = Math.min(5, inFlight);
      const grpcStreams = Math.ceil(inFlight / grpcConnections);
      const common = { tmpDir: ctx.tmpDir };
      const http = cpuMetered(kw.pid, (d) => runH2load({
          ...common, durationSec: d, url: `${kw.url}/`, h1: true, connections: inFlight, headers: httpHeaders,
          body: Buffer.from(JSON.stringify({ KeyId: keyId, Plaintext: encrypt.plaintext.toString('base64') })),
      }));
      const grpcUnary = cpuMetered(kw.pid, (d) => runH2load({
          ...common, durationSec: d, url: `http://${address}/keyward.v1.Kms/Encrypt`, connections: grpcConnections, streams: grpcStreams,
          headers: grpcHeaders, body: grpcFrame(service.Encrypt!.requestSerialize(encrypt)), minDataBytesPerResponse: 100,
      }));
      const batchCalls = cpuMetered(kw.pid, (d) => runH2load({
          ...common, durationSec: d, url: `http://${address}/keyward.v1.Kms/BatchEncrypt`, connections: grpcConnections, streams: Math.max(1, Math.ceil(grpcStreams / 5)),
          headers: grpcHeaders, body: grpcFrame(service.BatchEncrypt!.requestSerialize(batch)), minDataBytesPerResponse: BATCH * 100,
      }));
      const m = await interleaved(ctx, { http: http.run, grpc: grpcUnary.run, batch: batchCalls.run });
      const httpBase = { name: 'Encrypt 32 B over HTTP', value: m.http.rps };
      const unary = { name: 'unary gRPC Encrypt req/s', value: m.grpc.rps };
      const items = m.batch.rps * BATCH;
      return [
        loadRow(`Encrypt 32 B, HTTP AWS JSON, bearer, 1 process, h2load --h1 ${inFlight} conns`, m.http, { notes: 'the baseline of the gRPC row (same load generator, same requests in flight)' }),
        loadRow(`Encrypt 32 B, gRPC unary, bearer, 1 process, h2load ${grpcConnections} conns x ${grpcStreams} streams`, m.grpc, { baseline: httpBase, minRatio: 1.0 }),
        {
          scenario: `BatchEncrypt ${BATCH} x 32 B, gRPC, 1 process, h2load ${grpcConnections} conns x ${Math.max(1, Math.ceil(grpcStreams / 5))} streams`,
          unit: 'items/s',
          value: Math.round(items),
          p50Ms: m.batch.p50Ms,
          p99Ms: m.batch.p99Ms,
          baseline: { name: unary.name, value: Math.round(unary.value) },
          ratio: round(items / unary.value, 2),
          goal: { text: 'ratio >= 10', met: items / unary.value >= 10 },
          notes: `${Math.round(m.batch.rps)} batches/s; each item audited on its own; ${round(items / m.http.rps, 2)}x HTTP Encrypt req/s`,
        },
        ...cpuRows(http.perCpuSecond(), grpcUnary.perCpuSecond(), batchCalls.perCpuSecond() * BATCH),
      ];
    } finally {
      kms.destroy();
      await kw.stop();
    }
  },
};

/**
 * The same comparisons per second of server CPU (its measured rounds): what each path costs the
 * server, which the other work on a shared machine disturbs far less than the req/s above. No
 * goal of their own (the issue's goals are the req/s rows); they say whether a req/s ratio is the
 * paths' cost or the machine's noise.
 */
function cpuRows(http: number, unary: number, items: number): BenchRow[] {
  return [
    {
      scenario: 'Encrypt 32 B, gRPC unary, per second of server CPU', unit: 'req/s', value: Math.round(unary),
      baseline: { name: 'HTTP Encrypt per second of server CPU', value: Math.round(http) }, ratio: round(unary / http, 3),
      notes: `${Math.round(1e6 / unary)} µs of server CPU per gRPC call, ${Math.round(1e6 / http)} µs per HTTP request`,
    },
    {
      scenario: `BatchEncrypt ${BATCH} x 32 B, per second of server CPU`, unit: 'items/s', value: Math.round(items),
      baseline: { name: 'unary gRPC Encrypt per second of server CPU', value: Math.round(unary) }, ratio: round(items / unary, 2),
      notes: `${round(1e6 / items, 1)} µs of server CPU per item`,
    },
  ];
}

/** One call of each through grpc-js before the load, so a bad request fails with the server's message. */
async function probe(address: string, token: string, service: grpc.ServiceDefinition, encrypt: object, batch: object): Promise<void> {
  const Client = grpc.makeGenericClientConstructor(service, 'Kms');
  const client = new Client(address, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${token}`);
  const call = (method: string, request: object) => new Promise<unknown>((res, rej) => {
    (client as unknown as Record<string, (r: object, m: grpc.Metadata, cb: (e: Error | null, v: unknown) => void) => void>)[method]!(request, md, (e, v) => (e ? rej(e) : res(v)));
  });
  try {
    await call('Encrypt', encrypt);
    const r = await call('BatchEncrypt', batch) as { results?: Array<{ error?: unknown }> };
    if ((r.results ?? []).some((x) => x.error)) throw new Error(`BatchEncrypt probe: an item failed: ${JSON.stringify(r.results?.find((x) => x.error))}`);
  } finally {
    client.close();
  }
}
