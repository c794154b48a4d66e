import { adminClient, createKey, encryptBody } from '../lib/kms.js';
import { startKeyward, type KeywardInstance } from '../lib/keyward.js';
import { runLoad } from '../lib/load.js';
import { interleaved, loadRow } from '../lib/measure.js';
import { signCalls } from '../lib/sigv4.js';
import type { BenchContext, BenchRow, BenchScenario } from '../lib/types.js';

/**
 * Issue 4: Encrypt throughput with the audit log on (every request hash-chained and
 * group-committed to the SQLite store, fsync per batch, before it is answered) against the same
 * build with auditing off (KEYWARD_AUDIT=off), in interleaved rounds of the same run. Goal: on is
 * at least 0.8 of off. Afterwards the log the run wrote must verify.
 */
export const audit: BenchScenario = {
  name: 'audit log on vs off',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    // Per-principal rate limits off in both: the comparison is about the audit log's cost.
    const on = await startKeyward(ctx, { env: { KEYWARD_AUDIT: 'on', KEYWARD_RATE_LIMIT_PER_SECOND: '0' } });
    const onOs = await startKeyward(ctx, { env: { KEYWARD_AUDIT: 'on', KEYWARD_AUDIT_SYNC: 'os', KEYWARD_RATE_LIMIT_PER_SECOND: '0' } });
    const off = await startKeyward(ctx, { env: { KEYWARD_AUDIT: 'off', KEYWARD_RATE_LIMIT_PER_SECOND: '0' } });
    const clients = [adminClient(on), adminClient(off), adminClient(onOs)];
    try {
      const keys = { on: await createKey(clients[0]!), off: await createKey(clients[1]!), onOs: await createKey(clients[2]!) };
      const load = async (k: KeywardInstance, keyId: string, durationSec: number) => runLoad({
        url: k.url, connections: ctx.connections, durationSec,
        calls: await signCalls(k.url, k.admin, [{ operation: 'Encrypt', body: encryptBody(keyId, 32) }], k.admin.region),
      });
      const m = await interleaved(ctx, {
        off: (d) => load(off, keys.off, d),
        on: (d) => load(on, keys.on, d),
        onOs: (d) => load(onOs, keys.onOs, d),
      });
      const report = await verify(on);
      const c = ctx.connections;
      return [
        loadRow(`Encrypt 32 B, SigV4, audit off, ${c} conns`, m.off, { notes: 'KEYWARD_AUDIT=off: the baseline' }),
        loadRow(`Encrypt 32 B, SigV4, audit on (SQLite, group commit), ${c} conns`, m.on, {
          baseline: { name: 'audit off', value: m.off.rps },
          minRatio: 0.8,
          notes: `fsync per batch (default); ${report.records} records written in the run; VerifyAudit: ${report.ok ? 'intact' : 'BROKEN'}`,
        }),
        loadRow(`Encrypt 32 B, SigV4, audit on, KEYWARD_AUDIT_SYNC=os, ${c} conns`, m.onOs, {
          baseline: { name: 'audit off', value: m.off.rps },
          minRatio: 0.8,
          notes: 'audit batches handed to the OS, not fsynced (survive a Keyward crash, not a power loss)',
        }),
      ];
    } finally {
      for (const c of clients) c.destroy();
      await on.stop();
      await onOs.stop();
      await off.stop();
    }
  },
};

async function verify(k: KeywardInstance): Promise<{ ok: boolean; records: number }> {
  const res = await fetch(`${k.url}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Keyward.VerifyAudit', authorization: `Bearer ${k.admin.token}` },
    body: '{}',
  });
  const body = await res.json() as { ok?: boolean; chains?: Array<{ records: number }> };
  if (res.status !== 200 || body.ok !== true) throw new Error(`the audit log of the bench run does not verify: ${res.status} ${JSON.stringify(body).slice(0, 500)}`);
  return { ok: true, records: (body.chains ?? []).reduce((n, c) => n + c.records, 0) };
}
