import type { BenchRow } from './types.js';

function fmt(n: number | undefined, digits = 0): string {
  if (n === undefined) return '';
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** One fixed-width text table of every row (the JSON file has the full detail). */
export function formatTable(rows: readonly BenchRow[]): string {
  const head = ['scenario', 'value', 'unit', 'p50 ms', 'p99 ms', 'baseline', 'ratio', 'goal', 'notes'];
  const body = rows.map((r) => [
    r.scenario,
    fmt(r.value, Number.isInteger(r.value) ? 0 : 2),
    r.unit,
    fmt(r.p50Ms, 1),
    fmt(r.p99Ms, 1),
    r.baseline ? `${fmt(r.baseline.value, Number.isInteger(r.baseline.value) ? 0 : 2)} (${r.baseline.name})` : '',
    r.ratio === undefined ? '' : r.ratio.toFixed(2),
    r.goal ? `${r.goal.met ? 'MET' : 'NOT MET'}: ${r.goal.text}` : '',
    r.notes ?? '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (i === head.length - 1 ? 0 : b[i]!.length))));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : i === 0 || i >= 7 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
