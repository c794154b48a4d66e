import type { Readable, Writable } from 'node:stream';
import { zeroize } from '../crypto/index.js';
import { checkSegmentSize } from '../format/index.js';
import { contextBytes } from './context.js';
import type { EncryptStreamOptions, Envelope } from './envelope.js';
import { PARALLEL_MIN_BYTES, streamThrough, threadsOf, withFiles, type FileOptions } from './file-io.js';
import { runParallel } from './parallel-segments.js';
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
    const size = source.size;
    if (source.handle === undefined || size === undefined || sink.handle === undefined || !sink.positional || size < PARALLEL_MIN_BYTES) {
      return streamThrough(source.stream(), envelope.createEncryptStream({ ...options, segmentSize }), sink.stream(), options.onProgress);
    }
    const lease = await envelope.provider.encryptionKey({ keyId: options.keyId, context: options.context, canonicalContext: canonical, bytes: 0 });
    let segmented: ReturnType<typeof newSegmentStream>;
    try {
      segmented = newSegmentStream(lease.key, lease.encodedSource, segmentSize);
    } finally {
      lease.done();
    }
    try {
      const { header, prefix, key } = segmented;
      await sink.handle.write(header, 0, header.length, 0);
      const segments = Math.max(1, Math.ceil(size / segmentSize));
      await runParallel({
        mode: 'seal', inFd: source.handle.fd, outFd: sink.handle.fd, inBase: 0, outBase: header.length, segmentSize, segments,
        lastBytes: size - (segments - 1) * segmentSize, firstAad: Buffer.concat([header, canonical]), prefix, key,
      }, threads, options.onProgress);
    } finally {
      zeroize(segmented.key);
    }
    // a file that grew while it was read would be sealed only up to its old size
    if ((await source.handle.stat()).size !== size) throw new Error('the input file changed size while it was being encrypted');
  });
}
