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
