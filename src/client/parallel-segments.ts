import { Worker } from 'node:worker_threads';
import { zeroize } from '../crypto/zeroize.js';
import { InvalidCiphertextError } from './errors.js';

/**
 * What one worker thread of the parallel file engine does: seal or open segments
 * `batch * worker`, then every `batch * workers` on, between two file descriptors of this process.
 */
export interface SegmentWork {
  readonly mode: 'seal' | 'open';
  readonly inFd: number;
  readonly outFd: number;
  /** Where segment 0 starts in the input (0 when sealing, the header length when opening). */
  readonly inBase: number;
  /** Where segment 0 goes in the output (the header length when sealing, 0 when opening). */
  readonly outBase: number;
  readonly segmentSize: number;
  readonly segments: number;
  /** Input bytes of the last segment (plaintext when sealing, ciphertext || tag when opening). */
  readonly lastBytes: number;
  /** Segments per read and write: about 1 MiB of I/O whatever the segment size. */
  readonly batch: number;
  readonly firstAad: Uint8Array;
  readonly prefix: Uint8Array;
  /** The stream key, in an ArrayBuffer of its own that is moved (not copied) to the worker. */
  readonly key: ArrayBuffer;
  readonly worker: number;
  readonly workers: number;
}

export type WorkerReport =
  | { readonly kind: 'progress'; readonly bytes: number }
  | { readonly kind: 'done'; readonly bytes: number }
  | { readonly kind: 'failed'; readonly code: string | undefined; readonly message: string };

export type ParallelJob = Omit<SegmentWork, 'key' | 'worker' | 'workers' | 'batch'> & { readonly key: Buffer };

/** Bytes of I/O per batch of segments. */
const BATCH_BYTES = 1024 * 1024;

/**
 * Runs a job on up to `threads` worker threads (never more than there are batches). Resolves when
 * every segment is written; on the first failure the other workers are stopped (a stopped worker
 * frees its key copy without wiping it: terminate() skips its finally) and it rejects:
 * InvalidCiphertextError for a segment that does not authenticate, else the worker's error.
 * `onProgress` gets input bytes done, as they accumulate. The caller zeroizes `job.key`.
 */
export async function runParallel(job: ParallelJob, threads: number, onProgress?: (bytes: number) => void): Promise<void> {
  const batch = Math.max(1, Math.floor(BATCH_BYTES / job.segmentSize));
  const workers = Math.max(1, Math.min(threads, Math.ceil(job.segments / batch)));
  const started: Worker[] = [];
  let failure: { error: unknown } | undefined;
  const fail = (error: unknown) => {
    if (failure !== undefined) return;
    failure = { error };
    for (const w of started) void w.terminate();
  };
  const exits: Array<Promise<void>> = [];
  for (let worker = 0; worker < workers && failure === undefined; worker++) {
    // own buffers: a Buffer may be a view of Node's shared pool, which cloning would copy whole
    const key = new Uint8Array(job.key);
    const work: SegmentWork = { ...job, prefix: new Uint8Array(job.prefix), firstAad: new Uint8Array(job.firstAad), key: key.buffer, batch, worker, workers };
    let w: Worker;
    try {
      w = new Worker(new URL('./file-worker.js', import.meta.url), { workerData: work, transferList: [key.buffer] });
    } catch (e) {
      // the thread could not start (thread or memory limits): the key copy was not moved
      zeroize(key);
      fail(e);
      break;
    }
    started.push(w);
    let done = false;
    w.on('message', (report: WorkerReport) => {
      if (report.kind === 'failed') {
        fail(report.code === 'InvalidCiphertextException' ? new InvalidCiphertextError() : Object.assign(new Error(report.message), { code: report.code }));
        return;
      }
      if (report.kind === 'done') done = true;
      if (report.bytes === 0 || failure !== undefined || onProgress === undefined) return;
      try {
        onProgress(report.bytes);
      } catch (e) {
        fail(e);
      }
    });
    w.on('error', fail);
    exits.push(new Promise((resolve) => w.once('exit', (code) => {
      if (!done) fail(new Error(`a file encryption worker thread exited (code ${code}) before it finished`));
      resolve();
    })));
  }
  // settled only once every started worker has exited: the caller closes the descriptors next,
  // and a worker still writing to a closed (perhaps reused) descriptor would corrupt another file
  await Promise.all(exits);
  if (failure !== undefined) throw failure.error;
}
