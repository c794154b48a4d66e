import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import type { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { Envelope } from '../../client/envelope.js';
import type { FileOptions } from '../../client/file-io.js';
import { withClient, withConnection, type ConnectionFlags } from '../connection.js';
import { collect, keyValues, UsageError } from '../io.js';

interface FileFlags extends ConnectionFlags {
  readonly in: string;
  readonly out: string;
  readonly key?: string;
  readonly context?: string[];
  readonly segmentSize?: number;
  readonly threads?: number;
  readonly progress?: boolean;
}

/** Streaming file encryption: `keyward encrypt-file` / `keyward decrypt-file` (docs/formats.md). */
export function registerFile(program: Command): void {
  withConnection(program.command('encrypt-file'))
    .description('encrypt a file or stdin of any size into a segmented envelope (streamed, flat memory)')
    .requiredOption('--in <file>', 'plaintext file, or - for stdin')
    .requiredOption('--out <file>', 'envelope file, or - for stdout')
    .requiredOption('--key <key>', 'key id, ARN or alias that wraps the data key')
    .option('--context <key=value>', 'encryption context (repeatable; required again to decrypt)', collect)
    .option('--segment-size <bytes>', 'plaintext bytes per segment (default 262144 = 256 KiB)', (v) => Number(v))
    .option('--threads <n>', THREADS_HELP, (v) => Number(v))
    .option('--no-progress', 'no progress bar even on a terminal')
    .action((f: FileFlags) => withClient(f, async (client) => {
      const context = keyValues(f.context, '--context');
      if (f.segmentSize !== undefined && !Number.isInteger(f.segmentSize)) throw new UsageError('--segment-size must be an integer');
      await withProgress(f, (options) => new Envelope(client).encryptFile(orStdio(f.in, process.stdin), orStdio(f.out, process.stdout), {
        ...options, keyId: f.key!, ...(context ? { context } : {}), ...(f.segmentSize !== undefined ? { segmentSize: f.segmentSize } : {}),
      }));
    }));

  withConnection(program.command('decrypt-file'))
    .description('decrypt an envelope made by encrypt-file; writes nothing to --out unless every segment authenticates')
    .requiredOption('--in <file>', 'envelope file, or - for stdin')
    .requiredOption('--out <file>', 'plaintext file, or - for stdout (stdout gets each segment once it has authenticated)')
    .option('--context <key=value>', 'encryption context (repeatable)', collect)
    .option('--threads <n>', THREADS_HELP, (v) => Number(v))
    .option('--no-progress', 'no progress bar even on a terminal')
    .action((f: FileFlags) => withClient(f, async (client) => {
      const context = keyValues(f.context, '--context');
      await withProgress(f, (options) => new Envelope(client).decryptFile(orStdio(f.in, process.stdin), orStdio(f.out, process.stdout), { ...options, ...(context ? { context } : {}) }));
    }));
}

const THREADS_HELP = 'threads for files of 32 MiB and more (default 2 from 128 MiB on 2 or more cores, about 60.5 MiB peak RSS; else 1, about 52.5 MiB; each further thread adds ~11 MiB)';

/**
 * Two threads for a file of 128 MiB and more on two or more cores, when this thread takes a share
 * (no progress bar): the second isolate costs ~11 MiB, and the file commands' CommonJS bundle
 * (file-main.ts) leaves room for it under a 64 MB bound (1 GiB: 60.5 MiB peak RSS; one thread
 * 52.5, with TurboFan: see withoutTurboFan). 1 GiB on 2 cores, interleaved, wall time: load ~3,
 * 0.55-0.73 s with two against 0.85-1.55 s with one; load ~6, no gain (encryption the same,
 * decryption 0.92-1.05 s against 0.83-0.91) for 0.1-0.15 s more CPU. Smaller files: one thread
 * (a worker's start is not repaid).
 */
function defaultThreads(size: number | undefined, callingThread: boolean): number {
  return callingThread && size !== undefined && size >= TWO_THREADS_FROM && availableParallelism() >= 2 ? 2 : 1;
}

const TWO_THREADS_FROM = 128 * 1024 * 1024;

function orStdio<T>(value: string, dash: T): string | T {
  return value === '-' ? dash : value;
}

/** Runs a file operation with --threads, and a progress bar when stderr is a terminal and the input a file. */
async function withProgress(f: FileFlags, operation: (options: FileOptions) => Promise<void>): Promise<void> {
  if (f.threads !== undefined && !Number.isInteger(f.threads)) throw new UsageError('--threads must be an integer');
  raiseMallocThresholds();
  const total = f.in === '-' ? undefined : statSync(f.in).size;
  const bar = f.progress !== false && process.stderr.isTTY && total !== undefined ? await progressBar(total) : undefined;
  let done = 0;
  const threads = f.threads ?? defaultThreads(total, bar === undefined);
  if (threads > 1) withoutTurboFan();
  try {
    await operation({
      threads,
      // this thread seals a share too (one worker fewer), unless it has a progress bar to draw
      callingThread: bar === undefined,
      ...(bar !== undefined ? { onProgress: (bytes: number) => bar.update((done += bytes)) } : {}),
    });
  } finally {
    bar?.stop();
  }
}

/**
 * Every cipher update's output is a fresh malloc'd buffer, freed in batches after a collection;
 * with glibc's default trim threshold (128 KiB) the freed top of the heap went back to the kernel
 * each time and was faulted in again for the next batch (encrypt-file 100 MiB: 25,000 page faults
 * and 0.2 s of system time; 1 GiB: 190,000 and 2 s). glibc raises its mmap threshold to the size
 * of a mapped chunk that is freed, and the trim threshold to twice that (mallopt(3), "dynamic
 * mmap threshold"); hashing a 512 KiB string makes Node decode it into such a temporary buffer
 * and free it at once: 1 MiB of free heap is then kept, more than a batch's garbage (256 KiB of
 * cipher output per thread, parallel-segments.ts). A process-wide setting, so only the CLI makes
 * it, not the SDK; elsewhere than glibc it is a 512 KiB hash and nothing more.
 */
function raiseMallocThresholds(): void {
  createHash('sha256').update('\0'.repeat(MALLOC_PROBE_BYTES), 'latin1');
}

const MALLOC_PROBE_BYTES = 512 * 1024;

/**
 * TurboFan buys a file command nothing (its time is in native AES-GCM and I/O), and its
 * compilations cost peak RSS in every isolate: 1 GiB with two threads, 60.2 MiB without it against
 * 68.1 MiB with it, over a 64 MB bound. But any V8 flag set before node's own modules load makes
 * V8 refuse their embedded code cache (its flag hash differs), and they are compiled from source:
 * encrypt-file 100 MiB, one thread, took 16-23 ms longer (about 15% of the whole command) with
 * --no-opt set at start. So one thread (below 128 MiB by default) keeps TurboFan, at ~3 MiB more
 * peak RSS (49.4 -> 52.4 MiB), and more threads turn it off here, after this thread's modules
 * have loaded and before the workers start. A progress bar (a terminal) leaves the file to a
 * worker: bin/keyward.js turns TurboFan off at start there. Flags are process-wide: only the CLI
 * sets them.
 */
function withoutTurboFan(): void {
  setFlagsFromString('--no-opt');
}

/** The progress bar's module loads only for a terminal (scripts and pipes never pay for it). */
async function progressBar(total: number): Promise<SingleBar> {
  const { SingleBar, Presets } = await import('cli-progress');
  const bar = new SingleBar({
    stream: process.stderr,
    format: '{bar} {percentage}% | {value}/{total} bytes | {eta_formatted} left',
    hideCursor: true,
  }, Presets.shades_classic);
  bar.start(total, 0);
  return bar;
}
