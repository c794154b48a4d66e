import { Agent } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemWith, requestArb, send, startFuzzTarget, type FuzzRequest, type FuzzTarget } from './http-fuzz.js';

/**
 * `npm test` sends 1,000 fuzzed requests with shrinking; `npm run test:fuzz` sets
 * KEYWARD_FUZZ_REQUESTS (1,000,000) and sends them 16 at a time, then prints the summary line.
 */
const longRun = Number(process.env.KEYWARD_FUZZ_REQUESTS ?? 0);

let target: FuzzTarget;
let agent: Agent;
beforeAll(async () => {
  target = await startFuzzTarget();
  agent = new Agent({ keepAlive: true, maxSockets: 16 });
});
afterAll(async () => {
  agent.destroy();
  await target.close();
});

async function alive(): Promise<void> {
  expect(target.proc.proc.exitCode).toBeNull();
  expect(target.proc.proc.signalCode).toBeNull();
  expect((await fetch(`${target.url}/v1/sys/health`)).status).toBe(200);
}

const describeShort = longRun > 0 ? describe.skip : describe;
const describeLong = longRun > 0 ? describe : describe.skip;

describeShort('HTTP API fuzz (short)', () => {
  it('1000 random and malformed requests: 2xx or a clear AWS-shaped 4xx, never a 5xx; the process stays up', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(fc.asyncProperty(requestArb(target.pool), async (req) => {
      const res = await send(agent, target.url, req);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const problem = problemWith(req, res);
      if (problem !== undefined) throw new Error(problem);
    }), { numRuns: 1000 });
    await alive();
    // The fuzzer reaches deep as well as shallow: successes and several kinds of rejection
    // (about 60 successes per 1,000 on average; 30 is four standard deviations below).
    expect(statuses.get(200) ?? 0).toBeGreaterThan(30);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(200);
  }, 120_000);
});

describeLong('HTTP API fuzz (long)', () => {
  it(`${longRun} fuzzed requests: zero 5xx, zero dropped connections, zero crashes`, async () => {
    const started = performance.now();
    const statuses = new Map<number, number>();
    const types = new Map<string, number>();
    const failures: Array<{ req: FuzzRequest; problem: string }> = [];
    let problems = 0;
    let sent = 0;
    let dropped = 0;
    let seed = 1;
    const arb = requestArb(target.pool);
    while (sent < longRun) {
      const batch = fc.sample(arb, { numRuns: Math.min(2000, longRun - sent), seed: seed++ });
      let next = 0;
      await Promise.all(Array.from({ length: 16 }, async () => {
        while (next < batch.length) {
          const req = batch[next++]!;
          try {
            const res = await send(agent, target.url, req);
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
            const m = /"__type":"(\w+)"/.exec(res.body);
            if (m) types.set(m[1]!, (types.get(m[1]!) ?? 0) + 1);
            const problem = problemWith(req, res);
            if (problem !== undefined) problems += 1;
            if (problem !== undefined && failures.length < 20) failures.push({ req, problem });
          } catch (e) {
            dropped += 1;
            if (failures.length < 20) failures.push({ req, problem: `connection error ${(e as Error).message}` });
          }
        }
      }));
      sent += batch.length;
      if (sent % 100_000 < 2000) console.log(`fuzz: ${sent} requests, ${((performance.now() - started) / 1000).toFixed(0)} s`);
    }
    await alive();
    const fiveXX = [...statuses].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);
    const failed = problems + dropped;
    const seconds = (performance.now() - started) / 1000;
    console.log(`fuzz http: ${sent - failed} passed, ${failed} failed; ${sent} requests in ${seconds.toFixed(0)} s (${(sent / seconds).toFixed(0)}/s), `
      + `${fiveXX} 5xx, ${dropped} dropped connections, 0 crashes; statuses ${JSON.stringify(Object.fromEntries(statuses))}; `
      + `errors ${JSON.stringify(Object.fromEntries([...types].sort((a, b) => b[1] - a[1])))}`);
    expect(failures.map((f) => `${f.problem} <- ${f.req.method} ${f.req.path} ${JSON.stringify(f.req.headers)} ${f.req.body.subarray(0, 200).toString()}`)).toEqual([]);
    expect(fiveXX).toBe(0);
  }, 0);
});
