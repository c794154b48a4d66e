import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createServer as createH2Server } from 'node:http2';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { cpuMetered } from '../lib/cpu.js';
import { grpcFrame, requireH2load, runH2load } from '../lib/h2load.js';
import { stopProcess, waitForListening } from '../lib/keyward.js';
import { interleaved } from '../lib/measure.js';
import { round } from '../lib/stats.js';
import type { BenchContext, BenchRow, BenchScenario } from '../lib/types.js';

/** About the size of an Encrypt 32 B answer (blob + key ARN). */
const ANSWER = Buffer.alloc(160, 0x62);
type Kind = 'http' | 'h2' | 'grpcjs';

/**
 * `npm run bench -- --only grpc-floor`: what the transports alone cost per call, with Keyward's
 * bench shapes (h2load; HTTP/1.1 50 connections, HTTP/2 5 connections x 10 streams) against three
 * bare servers, each its own process: node:http (what POST / is served from), node:http2 answering
 * a gRPC-shaped response (headers, one DATA frame, trailers), and a grpc-js server with one unary
 * echo method (identity serialisers, channelz off). Rows are µs of server CPU per call: the floor
 * under the gRPC-vs-HTTP ratio of the `grpc` scenario, which no adapter change can go below.
 */
export const grpcFloor: BenchScenario = {
  name: 'gRPC floor: bare grpc-js vs node:http2 vs node:http, CPU per call',
  optIn: true,
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    requireH2load();
    const kinds: Kind[] = ['http', 'h2', 'grpcjs'];
    const servers = await Promise.all(kinds.map(startBare));
    try {
      const metered = Object.fromEntries(kinds.map((k, i) => {
        const s = servers[i]!;
        return [k, cpuMetered(s.pid, (d) => k === 'http'
          ? runH2load({ tmpDir: ctx.tmpDir, durationSec: d, url: `${s.url}/`, h1: true, connections: 50, body: Buffer.alloc(60, 0x61),
            headers: { 'content-type': 'application/x-amz-json-1.1', authorization: 'Bearer 0123456789abcdef0123456789abcdef' } })
          : runH2load({ tmpDir: ctx.tmpDir, durationSec: d, url: `${s.url}/floor.v1.Echo/Echo`, connections: 5, streams: 10, body: grpcFrame(Buffer.alloc(40, 0x61)),
            headers: { 'content-type': 'application/grpc', te: 'trailers', authorization: 'Bearer 0123456789abcdef0123456789abcdef' }, minDataBytesPerResponse: ANSWER.length })),
        ] as const;
      })) as Record<Kind, ReturnType<typeof cpuMetered>>;
      const m = await interleaved(ctx, { http: metered.http.run, h2: metered.h2.run, grpcjs: metered.grpcjs.run });
      const us = (k: Kind) => round(1e6 / metered[k].perCpuSecond(), 1);
      const row = (k: Kind, name: string): BenchRow => ({
        scenario: name, unit: 'req/s', value: Math.round(metered[k].perCpuSecond()),
        baseline: { name: 'bare node:http per second of server CPU', value: Math.round(metered.http.perCpuSecond()) },
        ratio: round(metered[k].perCpuSecond() / metered.http.perCpuSecond(), 3),
        notes: `${us(k)} µs of server CPU per call (node:http ${us('http')} µs); ${Math.round(m[k].rps)} req/s`,
      });
      return [
        row('h2', 'bare node:http2, gRPC-shaped unary answer, per second of server CPU'),
        row('grpcjs', 'bare grpc-js unary echo, per second of server CPU'),
      ];
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  },
};

async function startBare(kind: Kind): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', kind], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await waitForListening(proc, 10_000);
  return { url, pid: proc.pid!, stop: () => stopProcess(proc) };
}

function serve(kind: Kind): void {
  const listening = (address: unknown) => {
    const port = (address as { port: number }).port;
    process.stderr.write(`bare ${kind} listening on http://127.0.0.1:${port}\n`);
  };
  if (kind === 'grpcjs') {
    const server = new grpc.Server({ 'grpc.enable_channelz': 0, 'grpc.max_concurrent_streams': 1000 });
    const id = (b: Buffer) => b;
    const echo = { path: '/floor.v1.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id };
    server.addService({ Echo: echo }, { Echo: (_call: unknown, cb: (e: null, v: Buffer) => void) => cb(null, ANSWER) } as grpc.UntypedServiceImplementation);
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, port) => {
      if (e) throw e;
      listening({ port });
    });
    process.once('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
    return;
  }
  if (kind === 'h2') {
    const server = createH2Server({ settings: { maxConcurrentStreams: 1000 } });
    const frame = grpcFrame(ANSWER);
    server.on('stream', (stream) => {
      stream.on('data', () => undefined);
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(frame);
      });
    });
    server.listen(0, '127.0.0.1', () => listening(server.address()));
    process.once('SIGTERM', () => server.close(() => process.exit(0)));
    return;
  }
  const server = createServer((req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'content-length': ANSWER.length });
      res.end(ANSWER);
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () => listening(server.address()));
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--serve') serve(process.argv[3] as Kind);
