/**
 * `npm run bench [-- --quick] [--only NAME[,NAME]] [--soak] [--rounds N] [--duration S] [--connections N]`
 *
 * Discovers every scenario in bench/scenarios/ (each file exports one or more BenchScenario
 * objects, see bench/lib/types.ts), runs the selected ones in file order, prints one table and
 * writes bench/results/latest.json with the machine header. A scenario that throws is reported
 * and the others still run; the exit code is then 1.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { machineHeader } from './lib/machine.js';
import { repoRoot } from './lib/paths.js';
import { formatTable } from './lib/table.js';
import type { BenchContext, BenchRow, BenchScenario } from './lib/types.js';

interface Loaded {
  readonly file: string;
  readonly scenario: BenchScenario;
}

function isScenario(v: unknown): v is BenchScenario {
  return typeof v === 'object' && v !== null && typeof (v as BenchScenario).name === 'string' && typeof (v as BenchScenario).run === 'function';
}

async function discover(dir: string): Promise<Loaded[]> {
  const files = readdirSync(dir).filter((f) => f.endsWith('.js')).sort();
  const out: Loaded[] = [];
  for (const file of files) {
    const mod = await import(pathToFileURL(join(dir, file)).href) as Record<string, unknown>;
    const found = Object.values(mod).flatMap((v) => (Array.isArray(v) ? v : [v])).filter(isScenario);
    if (found.length === 0) console.error(`bench: ${file} exports no BenchScenario (an object with name and run); skipped`);
    const seen = new Set<BenchScenario>();
    for (const s of found) {
      if (!seen.has(s)) out.push({ file: file.replace(/\.js$/, ''), scenario: s });
      seen.add(s);
    }
  }
  return out;
}

function selected(l: Loaded, only: readonly string[]): boolean {
  if (only.length === 0) return l.scenario.optIn !== true;
  const hay = [l.file.toLowerCase(), l.scenario.name.toLowerCase()];
  return only.some((o) => hay.some((h) => h.includes(o.toLowerCase())));
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      soak: { type: 'boolean', default: false },
      only: { type: 'string', multiple: true },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      list: { type: 'boolean', default: false },
      out: { type: 'string' },
    },
  });
  const quick = values.quick ?? false;
  const only = (values.only ?? []).flatMap((o) => o.split(',')).map((o) => o.trim()).filter(Boolean);
  if (values.soak) only.push('soak');
  const root = repoRoot();
  const scenarios = await discover(join(import.meta.dirname, 'scenarios'));
  if (values.list) {
    for (const l of scenarios) console.log(`${l.file}: ${l.scenario.name}${l.scenario.optIn ? ' (opt-in)' : ''}`);
    return 0;
  }
  const chosen = scenarios.filter((l) => selected(l, only));
  if (chosen.length === 0) {
    console.error(`bench: no scenario matches ${only.join(', ')}; --list shows them`);
    return 2;
  }

  const started = Date.now();
  const tmpBase = mkdtempSync(join(tmpdir(), 'keyward-bench-'));
  const base = {
    quick,
    rounds: Number(values.rounds ?? (quick ? 1 : 3)),
    durationSec: Number(values.duration ?? (quick ? 3 : 10)),
    connections: Number(values.connections ?? 50),
  };
  const log = (message: string) => console.error(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}`);
  const header = machineHeader();
  log(`${header.cpuModel}, ${header.cores} cores, Node ${header.node}, load ${header.loadAverage.join(' ')}; ${quick ? 'quick' : 'full'} run: ${base.rounds} round(s) of ${base.durationSec} s, ${base.connections} connections`);

  const rows: BenchRow[] = [];
  const failures: { scenario: string; error: string }[] = [];
  try {
    for (const l of chosen) {
      const tmpDir = mkdtempSync(join(tmpBase, `${l.file}-`));
      const ctx: BenchContext = { ...base, tmpDir, log: (m) => log(`${l.scenario.name}: ${m}`) };
      const t0 = Date.now();
      log(`${l.scenario.name}: start`);
      try {
        const got = await l.scenario.run(ctx);
        rows.push(...got);
        log(`${l.scenario.name}: ${got.length} row(s) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      } catch (e) {
        const error = e instanceof Error ? e.message : String(e);
        failures.push({ scenario: l.scenario.name, error });
        log(`${l.scenario.name}: FAILED: ${error}`);
      } finally {
        rmSync(tmpDir, { recursive: true, force: true });
      }
    }
  } finally {
    rmSync(tmpBase, { recursive: true, force: true });
  }

  const report = {
    header: { ...header, finishedAt: new Date().toISOString(), loadAverageAtEnd: machineHeader().loadAverage, ...base, only, durationTotalSec: Math.round((Date.now() - started) / 1000) },
    rows,
    failures,
  };
  const outFile = values.out ?? join(root, 'bench', 'results', 'latest.json');
  mkdirSync(join(outFile, '..'), { recursive: true });
  writeFileSync(outFile, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nKeyward bench, ${header.date}: ${header.cpuModel}, ${header.cores} cores, Node ${header.node}, load average ${header.loadAverage.join(' ')} at start and ${report.header.loadAverageAtEnd.join(' ')} at end; ${quick ? 'quick' : 'full'} (${base.rounds} round(s) x ${base.durationSec} s, ${base.connections} connections)\n`);
  console.log(formatTable(rows));
  for (const f of failures) console.log(`FAILED ${f.scenario}: ${f.error}`);
  console.log(`\n${rows.length} row(s) in ${report.header.durationTotalSec} s; written to ${outFile}`);
  return failures.length > 0 ? 1 : 0;
}

main().then((code) => process.exit(code), (e: unknown) => {
  console.error(e);
  process.exit(1);
});
