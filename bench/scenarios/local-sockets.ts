import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { CreateAliasCommand } from '@aws-sdk/client-kms';
import { adminClient, createKey, encryptBody } from '../lib/kms.js';
import { startKeyward } from '../lib/keyward.js';
import { runLoad, type LoadResult } from '../lib/load.js';
import { interleaved, loadRow } from '../lib/measure.js';
import { repoRoot } from '../lib/paths.js';
import { bearerCalls } from '../lib/sigv4.js';
import type { BenchContext, BenchRow, BenchScenario } from '../lib/types.js';

const CONNECTIONS = 50;

/**
 * The local socket protocols against HTTP on one process, in the same run: mini-kms's NDJSON
 * Encrypt of 32 B over the Unix socket with 50 connections (one request in flight each, as
 * mini-kms's clients send them) vs the AWS JSON protocol's Encrypt of 32 B over HTTP with 50
 * keep-alive connections (bearer token; autocannon); and the Kubernetes KMS v2 plugin's Encrypt of
 * a 1 KiB Secret (grpc-js over the plugin's Unix socket, 50 calls in flight). Both load
 * generators are Node clients in this process. Default configuration (audit log on).
 */
export const localSocketsScenario: BenchScenario = {
  name: 'mini-kms NDJSON and Kubernetes KMS v2 vs HTTP, 1 process',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const dir = mkdtempSync(join(ctx.tmpDir, 'sockets-'));
    const minikmsSocket = join(dir, 'mini-kms.sock');
    const k8sSocket = join(dir, 'k8s-kms.sock');
    const grpcSocket = join(dir, 'grpc.sock');
    const kw = await startKeyward(ctx, {
      args: [
        '--minikms-socket', minikmsSocket, '--k8s-kms-socket', k8sSocket, '--k8s-kms-key', 'alias/k8s-secrets', '--k8s-kms-principal', 'admin',
        '--grpc-socket', grpcSocket,
      ],
    });
    const kms = adminClient(kw);
    try {
      const keyId = await createKey(kms);
      await kms.send(new CreateAliasCommand({ AliasName: 'alias/k8s-secrets', TargetKeyId: keyId }));
      const ndjsonLine = `${JSON.stringify({ type: 'Encrypt', token: kw.admin.token, keyId: 'default', plaintext: Buffer.alloc(32, 0x61).toString('base64') })}\n`;
      const http = bearerCalls(kw.url, kw.admin.token, [{ operation: 'Encrypt', body: encryptBody(keyId, 32) }]);
      const k8s = k8sClient(k8sSocket);
      const kwGrpc = keywardGrpcClient(grpcSocket, kw.admin.token, keyId);
      try {
        const secret = Buffer.alloc(1024, 0x73);
        const m = await interleaved(ctx, {
          http: (d) => runLoad({ url: kw.url, connections: CONNECTIONS, durationSec: d, calls: http }),
          ndjson: (d) => ndjsonLoad(minikmsSocket, ndjsonLine, CONNECTIONS, d),
          k8s: (d) => k8sLoad(k8s, secret, CONNECTIONS, d),
          grpc: (d) => k8sLoad(kwGrpc, secret, CONNECTIONS, d),
        });
        const grpcBaseline = { name: 'keyward.v1.Kms Encrypt 1 KiB, gRPC Unix socket', value: m.grpc.rps };
        const baseline = { name: 'Encrypt 32 B over HTTP', value: m.http.rps };
        return [
          loadRow(`Encrypt 32 B, HTTP AWS JSON, bearer, 1 process, ${CONNECTIONS} conns (autocannon)`, m.http, { notes: 'the baseline of the NDJSON and KMS v2 rows (same run)' }),
          loadRow(`Encrypt 32 B, mini-kms NDJSON, Unix socket, 1 process, ${CONNECTIONS} conns`, m.ndjson, {
            baseline, minRatio: 1.2, notes: 'no HTTP parsing, no SigV4: one JSON line each way',
          }),
          loadRow(`Encrypt 1 KiB, keyward.v1.Kms gRPC, bearer, Unix socket, 1 process, ${CONNECTIONS} in flight (grpc-js)`, m.grpc, {
            baseline, notes: 'the baseline of the KMS v2 row: the same grpc-js client and payload on Keyward\'s own gRPC service',
          }),
          loadRow(`Encrypt 1 KiB Secret, Kubernetes KMS v2 plugin, Unix socket, 1 process, ${CONNECTIONS} in flight (grpc-js)`, m.k8s, {
            baseline: grpcBaseline, notes: 'one grpc-js channel, as the kube-apiserver has one; the client runs in the bench process',
          }),
        ];
      } finally {
        k8s.close();
        kwGrpc.close();
      }
    } finally {
      kms.destroy();
      await kw.stop();
    }
  },
};

/** Closed loop: each connection sends one request line and waits for its answer before the next. */
async function ndjsonLoad(path: string, line: string, connections: number, durationSec: number): Promise<LoadResult> {
  const latencies: number[] = [];
  let failures = 0;
  let firstFailure = '';
  const end = Date.now() + durationSec * 1000;
  const one = () => new Promise<void>((resolve, reject) => {
    const socket = connect({ path });
    let buffer = '';
    let sentAt = 0;
    const send = () => {
      if (Date.now() >= end) {
        socket.end();
        resolve();
        return;
      }
      sentAt = performance.now();
      socket.write(line);
    };
    socket.setEncoding('utf8');
    socket.on('connect', send);
    socket.on('error', reject);
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const answer = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        latencies.push(performance.now() - sentAt);
        if (!answer.startsWith('{"status":"ok"')) {
          failures++;
          firstFailure ||= answer.slice(0, 300);
        }
        send();
      }
    });
  });
  const started = performance.now();
  await Promise.all(Array.from({ length: connections }, one));
  const seconds = (performance.now() - started) / 1000;
  if (failures > 0) throw new Error(`NDJSON load: ${failures} error answers, first: ${firstFailure}`);
  return summary(latencies, seconds);
}

interface K8sClient {
  encrypt(plaintext: Buffer): Promise<void>;
  close(): void;
}

/** A KMS v2 client from the v2 proto, as the API server has one (one channel). */
function k8sClient(path: string): K8sClient {
  const defs = loadSync(['kubernetes/kms/v2/api.proto'], { keepCase: true, includeDirs: [join(repoRoot(), 'proto')] });
  const Client = grpc.makeGenericClientConstructor(defs['v2.KeyManagementService'] as grpc.ServiceDefinition, 'KeyManagementService');
  const client = new Client(`unix:${path}`, grpc.credentials.createInsecure());
  return {
    encrypt: (plaintext) => new Promise((resolve, reject) => {
      (client as unknown as Record<string, (r: object, cb: (e: Error | null) => void) => void>).Encrypt!({ plaintext, uid: randomUUID() }, (e) => (e ? reject(e) : resolve()));
    }),
    close: () => client.close(),
  };
}

/** Keyward's own Encrypt over gRPC (bearer token), the same client shape as k8sClient. */
function keywardGrpcClient(path: string, token: string, keyId: string): K8sClient {
  const defs = loadSync(['keyward/v1/kms.proto'], { keepCase: true, includeDirs: [join(repoRoot(), 'proto')] });
  const Client = grpc.makeGenericClientConstructor(defs['keyward.v1.Kms'] as grpc.ServiceDefinition, 'Kms');
  const client = new Client(`unix:${path}`, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${token}`);
  return {
    encrypt: (plaintext) => new Promise((resolve, reject) => {
      (client as unknown as Record<string, (r: object, m: grpc.Metadata, cb: (e: Error | null) => void) => void>).Encrypt!({ key_id: keyId, plaintext }, md, (e) => (e ? reject(e) : resolve()));
    }),
    close: () => client.close(),
  };
}

async function k8sLoad(client: K8sClient, plaintext: Buffer, inFlight: number, durationSec: number): Promise<LoadResult> {
  const latencies: number[] = [];
  const end = Date.now() + durationSec * 1000;
  const started = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (Date.now() < end) {
      const t0 = performance.now();
      await client.encrypt(plaintext);
      latencies.push(performance.now() - t0);
    }
  }));
  return summary(latencies, (performance.now() - started) / 1000);
}

function summary(latencies: number[], seconds: number): LoadResult {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) * 100) / 100;
  return { rps: latencies.length / seconds, p50Ms: at(0.5), p99Ms: at(0.99), requests: latencies.length };
}
