import type { Readable, Writable } from 'node:stream';
import { zeroize } from '../crypto/zeroize.js';
import { MAX_SEGMENTS, checkSegmentSize } from '../format/envelope.js';
import { KeywardUsageError } from './errors.js';
import { contextBytes } from './context.js';
import type { EncryptStreamOptions, Envelope } from './envelope.js';
import { parallelFiles, streamThrough, threadsOf, withFiles, type FileOptions } from './file-io.js';
import { startSegmentPool } from './parallel-segments.js';
import { newSegmentStream } from './segments.js';

export interface EncryptFileOptions extends EncryptStreamOptions, FileOptions {}

/**
 * Envelope.encryptFile: a segmented envelope (algorithm 0x02), the same bytes a stream makes. A
 * regular file of PARALLEL_MIN_BYTES or more, written to a regular file or the null device, is
 * sealed by worker threads at once, each reading and writing its own segments at their positions;
 * anything else goes through createEncryptStream.
 */
export async function encryptFile(envelope: Envelope, input: string | Readable, output: string | Writable, options: EncryptFileOptions): Promise<void> {
  const canonical = contextBytes(options.context);
  const segmentSize = options.segmentSize ?? envelope.segmentSize;
  checkSegmentSize(segmentSize);
  const threads = threadsOf(options);
  await withFiles(input, output, async (source, sink) => {
    if (source.size !== undefined && Math.max(1, Math.ceil(source.size / segmentSize)) > MAX_SEGMENTS) {
      throw new KeywardUsageError(`${source.size} bytes need more than 2^32 segments of ${segmentSize} bytes: choose a larger segment size`);
    }
    const files = parallelFiles(source, sink);
    if (files === undefined) return streamThrough(source.stream(), envelope.createEncryptStream({ ...options, segmentSize }), sink.stream(), options.onProgress);
    const { size } = files;
    const segments = Math.max(1, Math.ceil(size / segmentSize));
    // the worker threads boot while the data key is fetched
    const pool = startSegmentPool({ segments, segmentSize, threads, callingThread: options.callingThread === true });
    let segmented: ReturnType<typeof newSegmentStream>;
    try {
      const lease = await envelope.provider.encryptionKey({ keyId: options.keyId, context: options.context, canonicalContext: canonical, bytes: 0 });
      try {
        segmented = newSegmentStream(lease.key, lease.encodedSource, segmentSize);
      } finally {
        lease.done();
      }
    } catch (e) {
      await pool.cancel();
      throw e;
    }
    try {
      const { header, prefix, key } = segmented;
      const { bytesWritten } = await files.output.write(header, 0, header.length, 0).catch(async (e: unknown) => {
        await pool.cancel();
        throw e;
      });
      if (bytesWritten !== header.length) {
        await pool.cancel();
        throw new Error('short write of the envelope header');
      }
      await pool.run({
        mode: 'seal', inFd: files.input.fd, outFd: files.output.fd, inBase: 0, outBase: header.length, segmentSize, segments,
        lastBytes: size - (segments - 1) * segmentSize, firstAad: Buffer.concat([header, canonical]), prefix, key,
      }, options.onProgress);
    } finally {
      zeroize(segmented.key);
    }
    // a file that grew while it was read would be sealed only up to its old size
    if ((await files.input.stat()).size !== size) throw new Error('the input file changed size while it was being encrypted');
  });
}
