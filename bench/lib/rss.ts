import { readFileSync } from 'node:fs';
import { MiB } from './stats.js';

/** Resident set size of one process, in bytes (Linux /proc); 0 once it has exited. */
export function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Direct children of a process (cluster workers), from /proc. */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** RSS of a process and its direct children (a cluster primary and its workers), in MiB. */
export function treeRssMiB(pid: number): number {
  let total = rssBytes(pid);
  for (const child of childPids(pid)) total += rssBytes(child);
  return total / MiB;
}
