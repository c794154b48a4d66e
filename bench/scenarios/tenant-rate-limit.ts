import { encryptBody } from '../lib/kms.js';
import { startKeyward, type KeywardInstance } from '../lib/keyward.js';
import { runCountedLoad, type CountedLoadResult } from '../lib/load.js';
import { bearerCalls, type HttpCall } from '../lib/sigv4.js';
import { median, round } from '../lib/stats.js';
import type { BenchContext, BenchRow, BenchScenario } from '../lib/types.js';

/**
 * Set from the node's capacity measured first (Encrypt 32 B, as fast as it answers), so that
 * both tenants together stay below it on a fast or a busy machine: the noisy tenant's quota
 * (RequestsPerSecond = Burst) is 15% of it and the quiet tenant offers 30%.
 */
const NOISY_SHARE = 0.15;
const QUIET_SHARE = 0.3;
const QUIET_CONNECTIONS = 10;

async function send(k: KeywardInstance, token: string, target: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${k.url}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target, authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() as Record<string, unknown> };
}

async function ok(k: KeywardInstance, token: string, target: string, body: unknown): Promise<Record<string, unknown>> {
  const r = await send(k, token, target, body);
  if (r.status !== 200) throw new Error(`${target} answered ${r.status}: ${JSON.stringify(r.json)}`);
  return r.json;
}

/** A tenant with a user principal and a key: the Encrypt 32 B call its principal sends. */
async function tenant(k: KeywardInstance, id: string): Promise<{ token: string; calls: HttpCall[] }> {
  await ok(k, k.admin.token, 'Keyward.CreateTenant', { TenantId: id });
  const admin = (await ok(k, k.admin.token, 'Keyward.CreatePrincipal', { Name: 'admin', Role: 'admin', Tenant: id })).Credentials as { Token: string };
  const user = (await ok(k, k.admin.token, 'Keyward.CreatePrincipal', { Name: 'app', Role: 'user', Tenant: id })).Credentials as { Token: string };
  const keyId = ((await ok(k, admin.Token, 'TrentService.CreateKey', {})).KeyMetadata as { KeyId: string }).KeyId;
  return { token: user.Token, calls: bearerCalls(k.url, user.Token, [{ operation: 'Encrypt', body: encryptBody(keyId, 32) }]) };
}

/**
 * One node, two tenants. The noisy one has a RequestsPerSecond (= Burst) quota and floods Encrypt
 * 32 B on every bench connection; the quiet one offers a fixed rate. Measured in the same rounds:
 * the quiet tenant alone, then both at once. Rows: the noisy tenant's accepted rate against its
 * quota, and the quiet tenant's served rate beside the flood against the same load alone (none
 * refused).
 */
export const tenantRateLimit: BenchScenario = {
  name: 'Tenant rate limit',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const k = await startKeyward(ctx);
    try {
      const noisy = await tenant(k, 'noisy');
      const quiet = await tenant(k, 'quiet');
      // no quota in the way while the capacity is measured (the per-principal limit is off in the bench)
      for (const id of ['noisy', 'quiet']) await ok(k, k.admin.token, 'Keyward.UpdateTenant', { TenantId: id, Quotas: { RequestsPerSecond: 0 } });
      await runCountedLoad({ url: k.url, connections: ctx.connections, durationSec: 1, calls: quiet.calls }); // warm-up
      const capacity = (await runCountedLoad({ url: k.url, connections: ctx.connections, durationSec: 2, calls: quiet.calls })).okRps;
      const NOISY_RATE = Math.max(10, Math.round(capacity * NOISY_SHARE));
      const QUIET_RATE = Math.max(10, Math.round(capacity * QUIET_SHARE));
      ctx.log(`  capacity ${Math.round(capacity)} req/s: noisy quota ${NOISY_RATE} req/s, quiet offers ${QUIET_RATE} req/s`);
      await ok(k, k.admin.token, 'Keyward.UpdateTenant', { TenantId: 'noisy', Quotas: { RequestsPerSecond: NOISY_RATE, Burst: NOISY_RATE } });
      const quietLoad = (d: number) => runCountedLoad({ url: k.url, connections: QUIET_CONNECTIONS, durationSec: d, calls: quiet.calls, overallRate: QUIET_RATE });
      const noisyLoad = (d: number) => runCountedLoad({ url: k.url, connections: ctx.connections, durationSec: d, calls: noisy.calls });
      const alone: CountedLoadResult[] = [];
      const beside: CountedLoadResult[] = [];
      const flood: CountedLoadResult[] = [];
      for (let r = 0; r < ctx.rounds; r++) {
        alone.push(await quietLoad(ctx.durationSec));
        // the noisy bucket refills between rounds: its burst is spent in the first second
        const [q, n] = await Promise.all([quietLoad(ctx.durationSec), noisyLoad(ctx.durationSec)]);
        beside.push(q);
        flood.push(n);
        ctx.log(`  round ${r + 1}/${ctx.rounds}: quiet alone ${Math.round(alone[r]!.okRps)} req/s (p99 ${alone[r]!.p99Ms} ms); beside the flood ${Math.round(q.okRps)} req/s (p99 ${q.p99Ms} ms, ${q.refused} refused); noisy accepted ${Math.round(n.okRps)} req/s, refused ${n.refused}`);
      }
      // what a refusal is: ThrottlingException naming the tenant (more at once than its burst)
      const burst = await Promise.all(Array.from({ length: 2 * NOISY_RATE + 10 }, () => send(k, noisy.token, 'TrentService.Encrypt', JSON.parse(noisy.calls[0]!.body))));
      const refusal = burst.find((r) => r.status !== 200)?.json;
      if (refusal?.__type !== 'ThrottlingException' || !String(refusal.message).includes('noisy')) {
        throw new Error(`the noisy tenant's refusals are not ThrottlingException naming it: ${JSON.stringify(refusal)}`);
      }

      const accepted = median(flood.map((f) => f.okRps));
      // the burst is spent once per round on top of the rate
      const expected = NOISY_RATE + NOISY_RATE / ctx.durationSec;
      const quietAlone = median(alone.map((a) => a.okRps));
      const quietBeside = median(beside.map((b) => b.okRps));
      const refusedQuiet = beside.reduce((n, b) => n + b.refused, 0);
      const floodOffered = median(flood.map((f) => (f.ok + f.refused) / ctx.durationSec));
      const acceptedRatio = round(accepted / expected, 3);
      const quietRatio = round(quietBeside / quietAlone, 3);
      return [
        {
          scenario: `Tenant at its limit (RequestsPerSecond = Burst = 15% of capacity), Encrypt 32 B flood, ${ctx.connections} conns: accepted`,
          unit: 'req/s', value: Math.round(accepted),
          baseline: { name: 'quota: rate + burst spread over the round', value: Math.round(expected) },
          ratio: acceptedRatio,
          goal: { text: 'ratio within 0.9-1.1', met: acceptedRatio >= 0.9 && acceptedRatio <= 1.1 },
          notes: `capacity measured first: ${Math.round(capacity)} req/s (quota 15% of it); offered ${Math.round(floodOffered)} req/s, the rest answered ThrottlingException`,
        },
        {
          scenario: `Other tenant beside that flood, Encrypt 32 B offered at 30% of capacity, ${QUIET_CONNECTIONS} conns`,
          unit: 'req/s', value: Math.round(quietBeside),
          p50Ms: median(beside.map((b) => b.p50Ms)), p99Ms: median(beside.map((b) => b.p99Ms)),
          baseline: { name: 'the same load alone, same run', value: Math.round(quietAlone) },
          ratio: quietRatio,
          goal: { text: 'ratio >= 0.95 and none refused', met: quietRatio >= 0.95 && refusedQuiet === 0 },
          notes: `offered ${QUIET_RATE} req/s; ${refusedQuiet} refused; p99 alone ${median(alone.map((a) => a.p99Ms))} ms`,
        },
      ];
    } finally {
      await k.stop();
    }
  },
};
