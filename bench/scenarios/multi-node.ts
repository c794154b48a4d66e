/**
 * Scale-out figures (issue 3): Encrypt throughput of one node vs two nodes on one PostgreSQL
 * database, with the load generator on the same machine, and the latency of a cold key load
 * from PostgreSQL (first use on a node that has never seen the key) against a warm Encrypt.
 *
 * It starts `bin/keyward.js` nodes with bench/lib/keyward.ts, creates and drops its
 * own database on the local PostgreSQL (KEYWARD_BENCH_PG, default postgres://postgres@127.0.0.1:5432/postgres)
 * and loads with autocannon over Bearer-token auth (static requests, so the generator stays cheap).
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import pg from 'pg';
import { initDataDir, startKeyward, type KeywardInstance } from '../lib/keyward.js';
import type { BenchContext, BenchRow, BenchScenario } from '../lib/types.js';

const ADMIN_URL = process.env.KEYWARD_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.KEYWARD_BENCH_REDIS ?? 'redis://127.0.0.1:6379';

async function adminSql(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

async function call(url: string, token: string, op: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${op}`, authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const json = await res.json() as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`${op} failed: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Successful requests per second over the run, summed over one autocannon instance per URL. */
async function throughput(urls: readonly string[], token: string, body: string, ctx: BenchContext): Promise<number> {
  const perTarget = Math.max(1, Math.floor(ctx.connections / urls.length));
  const results = await Promise.all(urls.map((url) => autocannon({
    url: `${url}/`, method: 'POST', connections: perTarget, duration: ctx.durationSec, body,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.Encrypt', authorization: `Bearer ${token}` },
  })));
  let total = 0;
  for (const r of results) {
    if (r.non2xx > 0 || r.errors > 0) throw new Error(`load saw ${r.non2xx} non-2xx answers and ${r.errors} errors`);
    total += r['2xx'] / r.duration;
  }
  return total;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}
const round2 = (x: number) => Math.round(x * 100) / 100;

export const multiNode: BenchScenario = {
  name: 'multi-node (PostgreSQL)',
  async run(ctx) {
    const name = `keyward_bench_${randomBytes(5).toString('hex')}`;
    const dbUrl = new URL(ADMIN_URL);
    dbUrl.pathname = `/${name}`;
    const store = dbUrl.toString();
    await adminSql(`CREATE DATABASE ${name}`);
    const nodes: KeywardInstance[] = [];
    try {
      // cheap Argon2id: this scenario measures the nodes, not unsealing
      const env = { KEYWARD_STORE: store, KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1' };
      const admin = await initDataDir(ctx.tmpDir, env);
      const token = admin.token;
      const startNode = () => startKeyward(ctx, { dataDir: ctx.tmpDir, admin, env });
      nodes.push(await startNode());
      const a = nodes[0]!;
      const keyId = ((await call(a.url, token, 'CreateKey', {})).KeyMetadata as { KeyId: string }).KeyId;
      const body = JSON.stringify({ KeyId: keyId, Plaintext: randomBytes(32).toString('base64') });
      await call(a.url, token, 'Encrypt', JSON.parse(body));
      nodes.push(await startNode());
      const b = nodes[1]!;
      await call(b.url, token, 'Encrypt', JSON.parse(body));

      // warm-up (JIT, connection pools) on both nodes, not measured
      await throughput([a.url, b.url], token, body, { ...ctx, durationSec: Math.min(3, ctx.durationSec) });
      // interleaved rounds: 1 node, then 2 nodes, so drift hits both alike
      const one: number[] = [];
      const two: number[] = [];
      for (let r = 0; r < ctx.rounds; r++) {
        ctx.log(`multi-node: round ${r + 1}/${ctx.rounds}`);
        one.push(await throughput([a.url], token, body, ctx));
        two.push(await throughput([a.url, b.url], token, body, ctx));
      }
      const cores = availableParallelism();

      // cold key load: keys made on B, first used on A (A has never cached them)
      const coldKeys = ctx.quick ? 40 : 200;
      const ids: string[] = [];
      for (let i = 0; i < coldKeys; i++) ids.push(((await call(b.url, token, 'CreateKey', {})).KeyMetadata as { KeyId: string }).KeyId);
      const cold: number[] = [];
      const warm: number[] = [];
      for (const id of ids) {
        const req = { KeyId: id, Plaintext: randomBytes(32).toString('base64') };
        let t = process.hrtime.bigint();
        await call(a.url, token, 'Encrypt', req);
        cold.push(Number(process.hrtime.bigint() - t) / 1e6);
        t = process.hrtime.bigint();
        await call(a.url, token, 'Encrypt', req);
        warm.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
      // cross-node invalidation: from a state change sent to B until A's kind of listener hears it
      const listener = new pg.Client({ connectionString: store });
      await listener.connect();
      await listener.query('LISTEN keyward_changes');
      const propagation: number[] = [];
      for (let i = 0; i < (ctx.quick ? 20 : 100); i++) {
        const heard = new Promise<bigint>((resolve) => listener.once('notification', () => resolve(process.hrtime.bigint())));
        const t = process.hrtime.bigint();
        await call(b.url, token, 'UpdateKeyDescription', { KeyId: keyId, Description: `d${i}` });
        propagation.push(Number((await heard) - t) / 1e6);
      }
      await listener.end();

      // what a shared Redis cache could save: one point read from Redis vs from PostgreSQL
      const rows = new pg.Client({ connectionString: store });
      await rows.connect();
      const sample = (await rows.query<{ key: string; value: Buffer }>("SELECT key, value FROM keyward_kv WHERE key LIKE '%/material/%' LIMIT 1")).rows[0]
        ?? (await rows.query<{ key: string; value: Buffer }>('SELECT key, value FROM keyward_kv LIMIT 1')).rows[0]!;
      const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await redis.connect();
      const redisKey = `${name}:${sample.key}`;
      await redis.set(redisKey, sample.value, 'EX', 300);
      const pgRead: number[] = [];
      const redisRead: number[] = [];
      for (let i = 0; i < (ctx.quick ? 100 : 1000); i++) {
        let t = process.hrtime.bigint();
        await rows.query('SELECT value, version FROM keyward_kv WHERE key = $1', [sample.key]);
        pgRead.push(Number(process.hrtime.bigint() - t) / 1e6);
        t = process.hrtime.bigint();
        await redis.getBuffer(redisKey);
        redisRead.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
      await redis.del(redisKey);
      redis.disconnect();
      await rows.end();

      const oneNode = median(one);
      const twoNodes = median(two);
      const note = `${cores} cores shared by PostgreSQL, the nodes and the load generator; ${ctx.connections} connections in total`;
      return [
        { scenario: 'Encrypt 32 B, 1 node on PostgreSQL', unit: 'req/s', value: Math.round(oneNode), notes: note },
        {
          scenario: 'Encrypt 32 B, 2 nodes on one PostgreSQL', unit: 'req/s', value: Math.round(twoNodes),
          baseline: { name: '1 node', value: Math.round(oneNode) }, ratio: round2(twoNodes / oneNode),
          notes: `${note}; the warm hot path does no DB round trip, so nodes share only CPU here`,
        },
        {
          scenario: 'Encrypt, cold key load from PostgreSQL (first use on a node)', unit: 'ms',
          value: round2(median(cold)), p50Ms: round2(median(cold)), p99Ms: round2(percentile(cold, 99)),
          baseline: { name: 'warm Encrypt, same keys, sequential', value: round2(median(warm)) }, ratio: round2(median(cold) / median(warm)),
          notes: `${coldKeys} keys created on another node; one request at a time`,
        },
        {
          scenario: 'Encrypt, warm (same keys, sequential)', unit: 'ms',
          value: round2(median(warm)), p50Ms: round2(median(warm)), p99Ms: round2(percentile(warm, 99)),
        },
        {
          scenario: 'Cross-node invalidation: change request to NOTIFY heard', unit: 'ms',
          value: round2(median(propagation)), p50Ms: round2(median(propagation)), p99Ms: round2(percentile(propagation, 99)),
          goal: { text: 'seen by every node within 1 s', met: percentile(propagation, 99) < 1000 },
          notes: 'UpdateKeyDescription on node B, timed from sending it until a LISTEN connection receives the change (includes the request itself)',
        },
        {
          scenario: 'Point read of one record: Redis GET (what --cache redis:// could save)', unit: 'ms',
          value: round2(median(redisRead)), p50Ms: round2(median(redisRead)), p99Ms: round2(percentile(redisRead, 99)),
          baseline: { name: 'the same read from PostgreSQL', value: round2(median(pgRead)) }, ratio: round2(median(redisRead) / median(pgRead)),
          notes: 'only a cold key load would use it (a warm node reads nothing); a cold load does ~2-3 such reads',
        },
      ] satisfies BenchRow[];
    } finally {
      for (const n of nodes) await n.stop().catch(() => undefined);
      await adminSql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    }
  },
};
