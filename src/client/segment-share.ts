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

/** What a share does with a batch's cipher output once it is written. */
export type Reclaim = (pieces: Buffer[], bytes: number) => void;

/**
 * Every cipher update returns a fresh buffer, whose memory V8 frees only when a collection finds
 * it dead; a loop of updates allocates almost nothing on the JavaScript heap, so V8 collects only
 * once its external-memory limit (64 MiB per isolate) is reached, and each thread of a file job
 * held 40-50 MiB of dead cipher output. So each batch's output is released once written:
 * `ArrayBuffer.prototype.transfer(0)` detaches a buffer and frees its memory at once. A minor
 * collection every 4 MiB then bounds the rest (the ciphers' native contexts, small objects):
 * 1 GiB, one share, CPU 1.3-1.4 -> 0.8 s at the same peak RSS (a collection every 256 KiB, as
 * before, spent ~20% of the CPU in scavenges; none at all, +1.5 MiB). Node 20 has transfer behind
 * a V8 flag (standard, and on by default, from Node 21): set at run time, a flag takes effect in
 * contexts made afterwards, so the function comes from a new context, as V8's gc function does
 * (handed out only with --expose-gc). Without transfer, a minor collection every 256 KiB (every
 * batch) bounds the dead output to one batch.
 */
export function reclaimer(): Reclaim {
  const release = bufferReleaser();
  const collect = youngCollector();
  const every = release !== undefined ? RELEASED_COLLECT_BYTES : COLLECT_BYTES;
  let uncollected = 0;
  return (pieces, bytes) => {
    release?.(pieces);
    uncollected += bytes;
    if (collect === undefined || uncollected < every) return;
    pieces.length = 0;
    collect();
    uncollected = 0;
  };
}

/** Input bytes between two minor collections: with the output released, and without. */
const RELEASED_COLLECT_BYTES = 4 * 1024 * 1024;
const COLLECT_BYTES = 256 * 1024;

/**
 * Frees buffers that own their whole ArrayBuffer (what a cipher update returns) by detaching it;
 * views of a shared pool or of a larger buffer are left alone. Undefined where transfer is missing.
 */
function bufferReleaser(): ((buffers: readonly Buffer[]) => void) | undefined {
  try {
    let transfer = (ArrayBuffer.prototype as { transfer?: unknown }).transfer;
    if (typeof transfer !== 'function') {
      setFlagsFromString('--harmony-rab-gsab-transfer');
      transfer = runInNewContext('ArrayBuffer.prototype.transfer') as unknown;
    }
    if (typeof transfer !== 'function') return undefined;
    const detach = transfer as (this: ArrayBuffer, length: number) => ArrayBuffer;
    return (buffers) => {
      for (const b of buffers) {
        const whole = b.buffer;
        if (b.byteOffset === 0 && b.byteLength === whole.byteLength && whole.byteLength > 0 && !(whole instanceof SharedArrayBuffer)) detach.call(whole as ArrayBuffer, 0);
      }
    };
  } catch {
    return undefined;
  }
}

function youngCollector(): (() => void) | undefined {
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
export function runShare(work: SegmentWork, report: (r: WorkerReport) => void, reclaim: Reclaim | undefined): void {
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
      reclaim?.(pieces, bytes);
      unreported += bytes;
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
