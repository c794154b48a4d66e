import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface SelfTime {
  readonly fn: string;
  readonly percent: number;
}

/** Self time per function of a V8 .cpuprofile (node --cpu-prof), highest first, idle excluded. */
export function selfTimes(file: string): SelfTime[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const perNode = new Map<number, number>();
  p.samples.forEach((id, i) => perNode.set(id, (perNode.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const perFn = new Map<string, number>();
  let total = 0;
  for (const n of p.nodes) {
    const t = perNode.get(n.id) ?? 0;
    if (n.callFrame.functionName === '(idle)') continue;
    total += t;
    const where = n.callFrame.url === '' ? '' : ` ${n.callFrame.url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*\/dist\//, 'dist/')}:${n.callFrame.lineNumber + 1}`;
    const key = `${n.callFrame.functionName || '(anonymous)'}${where}`;
    perFn.set(key, (perFn.get(key) ?? 0) + t);
  }
  return [...perFn].map(([fn, t]) => ({ fn, percent: (t / total) * 100 })).sort((a, b) => b.percent - a.percent);
}

/** The .cpuprofile files node wrote into dir. */
export function profilesIn(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(dir, f));
}

/**
 * Total time per function (its own samples plus its callees'), highest first, idle excluded: where
 * a path's cost is spread over many small callees (a promise chain, a serialiser), this shows it.
 */
export function totalTimes(file: string): SelfTime[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile & { nodes: Array<ProfileNode & { children?: number[] }> };
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'}${n.callFrame.url === '' ? '' : ` ${n.callFrame.url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*\/dist\//, 'dist/')}:${n.callFrame.lineNumber + 1}`}`;
  const perFn = new Map<string, number>();
  let total = 0;
  for (const [id, t] of self) {
    const n = byId.get(id);
    if (n === undefined || n.callFrame.functionName === '(idle)') continue;
    total += t;
    // each function on the stack once (recursion counted once)
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const key = label(byId.get(cur)!);
      if (seen.has(key)) continue;
      seen.add(key);
      perFn.set(key, (perFn.get(key) ?? 0) + t);
    }
  }
  return [...perFn].map(([fn, t]) => ({ fn, percent: (t / total) * 100 })).sort((a, b) => b.percent - a.percent);
}
