import type * as WorkerThreads from 'node:worker_threads';
import type { Worker } from 'node:worker_threads';
import { zeroize } from '../crypto/zeroize.js';
import { InvalidCiphertextError } from './errors.js';
import { runShare, stopShares, reclaimer, type SegmentWork, type WorkerReport } from './segment-share.js';

export type { SegmentWork, WorkerReport } from './segment-share.js';

export type ParallelJob = Omit<SegmentWork, 'key' | 'next' | 'batch'> & { readonly key: Buffer };

/**
 * Bytes of I/O per batch of segments (one 256 KiB segment by default). A batch's input and
 * cipher output are a thread's working memory (the output is released once written,
 * segment-share.ts): 1 GiB with two threads, 72 -> 62 MiB peak RSS from 1 MiB batches. Larger
 * batches also cost time here: 1 MiB, one thread, system CPU 0.27 -> 0.58 s per GiB (the pread
 * copy and the cipher no longer share the core's cache), 4 MiB 0.9 s and +8 MiB.
 */
const BATCH_BYTES = 256 * 1024;

/**
 * node:worker_threads, loaded only when a worker starts: the command line runs one thread by
 * default, and its start then skips the module (with readline loaded lazily too: encrypt-file
 * 100 MiB, 0.3 MiB less peak RSS, CPU time within the noise).
 */
function workerThreads(): typeof WorkerThreads {
  return process.getBuiltinModule('node:worker_threads');
}

/**
 * The worker's module, beside this one: file-worker.js, or in the command line's CommonJS bundle
 * (dist/file-commands.cjs, scripts/bundle-file-commands.mjs) the worker's own bundle beside it.
 */
const WORKER_FILE = import.meta.url.endsWith('.cjs') ? './file-worker.cjs' : './file-worker.js';

export interface PoolShape {
  readonly segments: number;
  readonly segmentSize: number;
  readonly threads: number;
  /**
   * The calling thread runs one of the shares itself (blocking its event loop meanwhile): one
   * worker thread fewer, which is what a command-line tool wants (a worker costs ~12 MiB and
   * 20-30 ms to start). Off for the SDK, whose callers keep their event loop.
   */
  readonly callingThread: boolean;
}

/**
 * Worker threads for one file job, started before the job's key is known so that they boot
 * while the data key is fetched; `run` hands each its share, `cancel` stops them unused.
 */
export interface SegmentPool {
  run(job: ParallelJob, onProgress?: (bytes: number) => void): Promise<void>;
  cancel(): Promise<void>;
}

/**
 * Starts up to `threads` shares' workers (never more than there are batches; one fewer when the
 * calling thread takes a share). Nothing is sent to them until run().
 */
export function startSegmentPool(shape: PoolShape): SegmentPool {
  const batch = Math.max(1, Math.floor(BATCH_BYTES / shape.segmentSize));
  const shares = Math.max(1, Math.min(shape.threads, Math.ceil(shape.segments / batch)));
  const own = shape.callingThread ? 1 : 0;
  const workers: Worker[] = [];
  let startError: unknown;
  for (let i = own; i < shares; i++) {
    try {
      workers.push(new (workerThreads().Worker)(new URL(WORKER_FILE, import.meta.url)));
    } catch (e) {
      // the thread could not start (thread or memory limits): reported by run()
      startError = e;
      break;
    }
  }
  const stopAll = () => Promise.all(workers.map((w) => w.terminate())).then(() => undefined);
  return {
    cancel: stopAll,
    async run(job: ParallelJob, onProgress?: (bytes: number) => void): Promise<void> {
      if (job.segments !== shape.segments || job.segmentSize !== shape.segmentSize) throw new Error('the job does not match the pool it was started for');
      if (startError !== undefined) {
        await stopAll();
        throw startError;
      }
      const next = new SharedArrayBuffer(8);
      let failure: { error: unknown } | undefined;
      const fail = (error: unknown) => {
        if (failure !== undefined) return;
        failure = { error };
        stopShares(next);
        for (const w of workers) void w.terminate();
      };
      const onReport = (report: WorkerReport, done: () => void) => {
        if (report.kind === 'failed') {
          fail(report.code === 'InvalidCiphertextException' ? new InvalidCiphertextError() : Object.assign(new Error(report.message), { code: report.code }));
          return;
        }
        if (report.kind === 'done') done();
        if (report.bytes === 0 || failure !== undefined || onProgress === undefined) return;
        try {
          onProgress(report.bytes);
        } catch (e) {
          fail(e);
        }
      };
      const workOf = (): SegmentWork => {
        // own buffers: a Buffer may be a view of Node's shared pool, which cloning would copy whole
        const key = new Uint8Array(job.key);
        return { ...job, prefix: new Uint8Array(job.prefix), firstAad: new Uint8Array(job.firstAad), key: key.buffer, batch, next };
      };
      const exits = workers.map((w) => {
        let done = false;
        const exited = new Promise<void>((resolve) => w.once('exit', (code) => {
          if (!done) fail(new Error(`a file encryption worker thread exited (code ${code}) before it finished`));
          resolve();
        }));
        w.on('message', (report: WorkerReport) => onReport(report, () => { done = true; }));
        w.on('error', fail);
        const work = workOf();
        try {
          w.postMessage(work, [work.key]);
        } catch (e) {
          zeroize(new Uint8Array(work.key));
          fail(e);
        }
        return exited;
      });
      if (shape.callingThread) runShare(workOf(), (report) => onReport(report, () => undefined), reclaimer());
      // settled only once every worker has exited: the caller closes the descriptors next, and a
      // worker still writing to a closed (perhaps reused) descriptor would corrupt another file
      await Promise.all(exits);
      if (failure !== undefined) throw failure.error;
    },
  };
}
