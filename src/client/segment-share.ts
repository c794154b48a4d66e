import { readSync, writevSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { GCM_TAG_BYTES } from '../crypto/aead.js';
import { zeroize } from '../crypto/zeroize.js';
import { openSegment, sealSegment } from '../format/envelope.js';

/**
 * One share of a parallel file job: batches of `batch` segments between two file descriptors of
 * this process, each share taking the next batch from a counter all shares hold, until none is
 * left. A worker thread runs one (file-worker.ts), and so may the calling thread
 * (parallel-segments.ts). Taken, not dealt: on a loaded machine a thread that gets less CPU
 * time does fewer batches instead of holding the job up (1 GiB, two threads, load ~24 on 2
 * cores: 3.4-8.9 s with every other batch dealt to each thread).
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
  /** Segments per read and write: about 256 KiB of I/O (at least one segment). */
  readonly batch: number;
  readonly firstAad: Uint8Array;
  readonly prefix: Uint8Array;
  /** The stream key, in an ArrayBuffer of its own (moved, not copied, to a worker). */
  readonly key: ArrayBuffer;
  /** The next batch to take (one BigInt64 slot), shared by every share of the job. */
  readonly next: SharedArrayBuffer;
}

export type WorkerReport =
  | { readonly kind: 'progress'; readonly bytes: number }
  | { readonly kind: 'done'; readonly bytes: number }
  | { readonly kind: 'failed'; readonly code: string | undefined; readonly message: string };

/** Progress is reported in steps of at least this many input bytes. */
const REPORT_BYTES = 16 * 1024 * 1024;

/** A young-generation collection after this many input bytes (see youngCollector). */
const COLLECT_BYTES = 256 * 1024;

/**
 * Every cipher update returns a fresh buffer, whose memory V8 frees only when a collection finds
 * it dead; a loop of updates allocates almost nothing on the JavaScript heap, so V8 collects only
 * once its external-memory limit (64 MiB per isolate) is reached, and each thread of a file job
 * held 40-50 MiB of dead cipher output. A minor collection every 256 KiB (every batch) bounds that
 * to one batch: 1 GiB in one share took the same CPU time as with one every 2 MiB (1.0-1.8 s either
 * way on a loaded machine) and 4 MiB less memory. V8 hands out its gc function only
 * with --expose-gc; the flag set at run time takes effect in contexts made afterwards, so the
 * function comes from a new context. Returns undefined where that does not work.
 */
export function youngCollector(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    if (typeof gc !== 'function') return undefined;
    return () => (gc as (options: { type: string }) => void)({ type: 'minor' });
  } catch {
    return undefined;
  }
}

/** Runs one share to its end; every outcome goes to `report`, which is never left uncalled. */
export function runShare(work: SegmentWork, report: (r: WorkerReport) => void, collect: (() => void) | undefined): void {
  const key = Buffer.from(work.key);
  const prefix = Buffer.from(work.prefix);
  const firstAad = Buffer.from(work.firstAad);
  const sealing = work.mode === 'seal';
  const inSize = sealing ? work.segmentSize : work.segmentSize + GCM_TAG_BYTES;
  const outSize = sealing ? work.segmentSize + GCM_TAG_BYTES : work.segmentSize;
  const lastIn = work.lastBytes;
  const buffer = Buffer.allocUnsafe(inSize * work.batch);
  const next = new BigInt64Array(work.next);
  let unreported = 0;
  let uncollected = 0;
  try {
    for (;;) {
      const first = Number(Atomics.add(next, 0, 1n)) * work.batch;
      if (first >= work.segments) break;
      const end = Math.min(work.segments, first + work.batch);
      const bytes = (end - first - 1) * inSize + (end === work.segments ? lastIn : inSize);
      readFully(work.inFd, buffer, bytes, work.inBase + first * inSize);
      const pieces: Buffer[] = [];
      for (let i = first; i < end; i++) {
        const segment = buffer.subarray((i - first) * inSize, Math.min(bytes, (i - first + 1) * inSize));
        const aad = i === 0 ? firstAad : undefined;
        const last = i === work.segments - 1;
        for (const p of sealing ? sealSegment(key, prefix, i, last, segment, aad) : openSegment(key, prefix, i, last, segment, aad)) pieces.push(p);
      }
      writeFully(work.outFd, pieces, work.outBase + first * outSize);
      unreported += bytes;
      uncollected += bytes;
      if (collect !== undefined && uncollected >= COLLECT_BYTES) {
        pieces.length = 0;
        collect();
        uncollected = 0;
      }
      if (unreported >= REPORT_BYTES) {
        report({ kind: 'progress', bytes: unreported });
        unreported = 0;
      }
    }
    report({ kind: 'done', bytes: unreported });
  } catch (e) {
    stopShares(work.next);
    const code = (e as { code?: unknown }).code;
    report({ kind: 'failed', code: typeof code === 'string' ? code : undefined, message: (e as Error).message });
  } finally {
    zeroize(key, new Uint8Array(work.key));
  }
}

/** Every share stops at its next batch (one failed: the job fails whatever the others do). */
export function stopShares(next: SharedArrayBuffer): void {
  Atomics.store(new BigInt64Array(next), 0, BigInt(Number.MAX_SAFE_INTEGER));
}

/** pread until `bytes` are in; a short file means the input changed since its size was taken. */
function readFully(fd: number, buffer: Buffer, bytes: number, position: number): void {
  for (let got = 0; got < bytes;) {
    const n = readSync(fd, buffer, got, bytes - got, position + got);
    if (n === 0) throw Object.assign(new Error('the input file became shorter while it was being read'), { code: 'InputChanged' });
    got += n;
  }
}

/** pwritev until every piece is written (a write may be partial). */
function writeFully(fd: number, pieces: Buffer[], position: number): void {
  let rest = pieces;
  let at = position;
  while (rest.length > 0) {
    let n = writevSync(fd, rest, at);
    at += n;
    let i = 0;
    while (i < rest.length && n >= rest[i]!.length) n -= rest[i++]!.length;
    rest = rest.slice(i);
    if (n > 0) rest[0] = rest[0]!.subarray(n);
  }
}
