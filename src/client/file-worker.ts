// A worker thread of the parallel file engine (parallel-segments.ts). It starts before its job is
// known (while the data key is being fetched), waits for one SegmentWork message, runs that share
// (segment-share.ts: pread/pwritev on descriptors the main thread opened, so no data passes
// between threads) and ends.
import { parentPort } from 'node:worker_threads';
import { runShare, reclaimer, type SegmentWork } from './segment-share.js';

const port = parentPort!;
port.once('message', (work: SegmentWork) => {
  runShare(work, (report) => port.postMessage(report), reclaimer());
  port.close();
});
