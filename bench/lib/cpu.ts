import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { LoadResult } from './load.js';

let ticksPerSecond: number | undefined;

/** The unit of /proc's utime and stime (USER_HZ). */
export function clockTicksPerSecond(): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return ticksPerSecond;
}

/** CPU seconds (user + system, all threads) process `pid` has used so far, from /proc/PID/stat (Linux). */
export function processCpuSeconds(pid: number): number {
  // the fields after the command name (which may hold spaces): utime and stime are the 12th and 13th
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond();
}

/**
 * Counts the server CPU time a load subject costs (its measured rounds; the first call, the
 * warm-up of `interleaved`, is not counted): requests per CPU-second is what the server could
 * answer with one core to itself, which a loaded machine disturbs far less than req/s.
 */
export function cpuMetered(pid: number, run: (durationSec: number) => Promise<LoadResult>): { run: (durationSec: number) => Promise<LoadResult>; perCpuSecond: () => number } {
  let calls = 0;
  let cpu = 0;
  let requests = 0;
  return {
    async run(durationSec) {
      const before = processCpuSeconds(pid);
      const result = await run(durationSec);
      if (calls++ > 0) {
        cpu += processCpuSeconds(pid) - before;
        requests += result.requests;
      }
      return result;
    },
    perCpuSecond: () => (cpu > 0 ? requests / cpu : 0),
  };
}
