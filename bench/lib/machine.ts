import { cpus, loadavg, totalmem } from 'node:os';
import { round, MiB } from './stats.js';

export interface MachineHeader {
  readonly date: string;
  readonly node: string;
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryMiB: number;
  readonly platform: string;
  /** 1-, 5- and 15-minute load averages: other work on the machine skews every figure. */
  readonly loadAverage: readonly number[];
}

export function machineHeader(): MachineHeader {
  const cpu = cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    cores: cpu.length,
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    memoryMiB: Math.round(totalmem() / MiB),
    platform: `${process.platform} ${process.arch}`,
    loadAverage: loadavg().map((l) => round(l, 2)),
  };
}
