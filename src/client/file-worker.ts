// A worker thread of the parallel file engine (parallel-segments.ts). It seals or opens every
// `workers`-th batch of segments, reading and writing at their positions (pread/pwrite on file
// descriptors the main thread opened), so no data passes between threads.
import { readSync, writevSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { GCM_TAG_BYTES } from '../crypto/aead.js';
import { zeroize } from '../crypto/zeroize.js';
import { openSegment, sealSegment } from '../format/envelope.js';
import type { SegmentWork, WorkerReport } from './parallel-segments.js';

/** Progress is reported in steps of at least this many input bytes. */
const REPORT_BYTES = 16 * 1024 * 1024;

function run(work: SegmentWork): void {
  const key = Buffer.from(work.key);
  const prefix = Buffer.from(work.prefix);
  const firstAad = Buffer.from(work.firstAad);
  const sealing = work.mode === 'seal';
  const inSize = sealing ? work.segmentSize : work.segmentSize + GCM_TAG_BYTES;
  const outSize = sealing ? work.segmentSize + GCM_TAG_BYTES : work.segmentSize;
  const lastIn = work.lastBytes;
  const buffer = Buffer.allocUnsafe(inSize * work.batch);
  let unreported = 0;
  try {
    for (let first = work.worker * work.batch; first < work.segments; first += work.workers * work.batch) {
      const end = Math.min(work.segments, first + work.batch);
      const bytes = (end - first - 1) * inSize + (end === work.segments ? lastIn : inSize);
      readFully(work.inFd, buffer, bytes, work.inBase + first * inSize);
      const pieces: Buffer[] = [];
      let inputBytes = 0;
      for (let i = first; i < end; i++) {
        const segment = buffer.subarray((i - first) * inSize, Math.min(bytes, (i - first + 1) * inSize));
        const aad = i === 0 ? firstAad : undefined;
        const last = i === work.segments - 1;
        pieces.push(...(sealing ? sealSegment(key, prefix, i, last, segment, aad) : openSegment(key, prefix, i, last, segment, aad)));
        inputBytes += segment.length;
      }
      writeFully(work.outFd, pieces, work.outBase + first * outSize);
      unreported += inputBytes;
      if (unreported >= REPORT_BYTES) {
        post({ kind: 'progress', bytes: unreported });
        unreported = 0;
      }
    }
    post({ kind: 'done', bytes: unreported });
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    post({ kind: 'failed', code: typeof code === 'string' ? code : undefined, message: (e as Error).message });
  } finally {
    zeroize(key, new Uint8Array(work.key));
  }
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

function post(report: WorkerReport): void {
  parentPort!.postMessage(report);
}

run(workerData as SegmentWork);
