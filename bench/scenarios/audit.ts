/**
 * Encrypt throughput with the audit log on (every request hash-chained, group-committed to the
 * SQLite store before it is answered) against the same server with auditing off, in interleaved
 * rounds of the same run. Goal (issue 4): on >= 0.8 of off.
 */
import autocannon from 'autocannon';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { BenchContext, BenchRow, BenchScenario } from '../lib/types.js';

const execFileP = promisify(execFile);
const PASSPHRASE = 'bench passphrase, scratch data only';

/** bin/keyward.js of the repository (this file may run compiled from bench/.build/...). */
function keywardBin(): string {
  let dir = import.meta.dirname;
  for (let i = 0; i < 8; i++) {
    const candidate = resolve(dir, 'bin', 'keyward.js');
    if (existsSync(candidate)) return candidate;
    dir = resolve(dir, '..');
  }
  throw new Error('bin/keyward.js not found above the bench scenario');
}

interface Server { url: string; token: string; proc: ChildProcess }

async function startServer(ctx: BenchContext, audit: 'on' | 'off'): Promise<Server> {
  const dataDir = mkdtempSync(join(ctx.tmpDir, `audit-${audit}-`));
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KEYWARD_PASSPHRASE: PASSPHRASE, KEYWARD_LOG_LEVEL: 'warn', KEYWARD_AUDIT: audit };
  const { stdout } = await execFileP(process.execPath, [keywardBin(), 'init', '--data-dir', dataDir, '--json'], { env, encoding: 'utf8' });
  const token = (JSON.parse(stdout) as { token: string }).token;
  const proc = spawn(process.execPath, [keywardBin(), 'server', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((ok, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`server did not start:\n${out}`)), 60_000);
    const onData = (c: Buffer) => {
      out += c.toString();
      const m = /listening on (https?:\/\/[^\s]+?)(?: and |\s|$)/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(m[1]!);
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => fail(new Error(`server exited (${code}) before listening:\n${out}`)));
  });
  return { url, token, proc };
}

async function stop(s: Server): Promise<void> {
  if (s.proc.exitCode !== null) return;
  const exited = new Promise<void>((r) => s.proc.once('exit', () => r()));
  s.proc.kill('SIGTERM');
  await exited;
}

async function call(s: Server, target: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${s.url}/`, { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target, authorization: `Bearer ${s.token}` }, body: JSON.stringify(body) });
  const json = await res.json() as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`${target}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

interface Round { rps: number; p50: number; p99: number }

async function load(s: Server, keyId: string, ctx: BenchContext, durationSec: number): Promise<Round> {
  const body = JSON.stringify({ KeyId: keyId, Plaintext: Buffer.alloc(32, 7).toString('base64'), EncryptionContext: { purpose: 'bench' } });
  const r = await autocannon({
    url: s.url, connections: ctx.connections, duration: durationSec, pipelining: 1,
    requests: [{ method: 'POST', path: '/', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.Encrypt', authorization: `Bearer ${s.token}` }, body }],
  });
  const failed = r.non2xx + r.errors + r.timeouts;
  if (failed > 0) throw new Error(`Encrypt load: ${failed} failures of ${r.requests.total}`);
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99 };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export const auditScenario: BenchScenario = {
  name: 'audit: Encrypt with the audit log on vs off',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const on = await startServer(ctx, 'on');
    const off = await startServer(ctx, 'off');
    try {
      const keys = {
        on: (await call(on, 'TrentService.CreateKey', {}) as { KeyMetadata: { KeyId: string } }).KeyMetadata.KeyId,
        off: (await call(off, 'TrentService.CreateKey', {}) as { KeyMetadata: { KeyId: string } }).KeyMetadata.KeyId,
      };
      await load(on, keys.on, ctx, 1);
      await load(off, keys.off, ctx, 1);
      const rounds: Record<'on' | 'off', Round[]> = { on: [], off: [] };
      for (let i = 0; i < ctx.rounds; i++) {
        for (const which of ['off', 'on'] as const) {
          const r = await load(which === 'on' ? on : off, keys[which], ctx, ctx.durationSec);
          ctx.log(`  round ${i + 1}/${ctx.rounds} audit ${which}: ${Math.round(r.rps)} req/s, p99 ${r.p99} ms`);
          rounds[which].push(r);
        }
      }
      // The log the run produced still verifies.
      const report = await call(on, 'Keyward.VerifyAudit', {}) as { ok: boolean; chains: Array<{ records: number }> };
      if (!report.ok) throw new Error(`the audit log of the bench run does not verify: ${JSON.stringify(report).slice(0, 500)}`);
      const offRps = median(rounds.off.map((r) => r.rps));
      const onRps = median(rounds.on.map((r) => r.rps));
      const ratio = Math.round((onRps / offRps) * 1000) / 1000;
      const records = report.chains.reduce((n, c) => n + c.records, 0);
      return [
        { scenario: 'Encrypt 32 B, bearer, audit off', unit: 'req/s', value: Math.round(offRps), p50Ms: median(rounds.off.map((r) => r.p50)), p99Ms: median(rounds.off.map((r) => r.p99)) },
        {
          scenario: 'Encrypt 32 B, bearer, audit on (SQLite, group commit)', unit: 'req/s', value: Math.round(onRps),
          p50Ms: median(rounds.on.map((r) => r.p50)), p99Ms: median(rounds.on.map((r) => r.p99)),
          baseline: { name: 'audit off', value: Math.round(offRps) }, ratio,
          goal: { text: 'audit on >= 0.8 x audit off', met: ratio >= 0.8 },
          notes: `${records} audit records written and verified`,
        },
      ];
    } finally {
      await stop(on);
      await stop(off);
    }
  },
};
