import type { Readable, Writable } from 'node:stream';
import { GCM_TAG_BYTES } from '../crypto/aead.js';
import { zeroize } from '../crypto/zeroize.js';
import { ALG_GCM_SEGMENTED, MAX_SEGMENTS, deriveSegmentKey, parseHeader } from '../format/envelope.js';
import { contextBytes } from './context.js';
import type { DecryptOptions, Envelope } from './envelope.js';
import { InvalidCiphertextError, ciphertextGuard } from './errors.js';
import { parallelFiles, streamThrough, threadsOf, withFiles, type FileOptions } from './file-io.js';
import { startSegmentPool } from './parallel-segments.js';

export interface DecryptFileOptions extends DecryptOptions, FileOptions {}

/** The longest header: a KMS key source with a 65,535-byte wrapped key, plus the segment parameters. */
const MAX_HEADER_BYTES = 6 + 2 + 65_535 + 4 + 32 + 7;

/**
 * Envelope.decryptFile. A segmented envelope in a regular file of PARALLEL_MIN_BYTES or more,
 * written to a regular file or the null device, is opened by worker threads at once; anything
 * else goes through createDecryptStream. Either way a segment's plaintext is written only after
 * its tag verified, and a file output appears only if every segment did.
 */
export async function decryptFile(envelope: Envelope, input: string | Readable, output: string | Writable, options: DecryptFileOptions): Promise<void> {
  const canonical = contextBytes(options.context);
  const threads = threadsOf(options);
  await withFiles(input, output, async (source, sink) => {
    const files = parallelFiles(source, sink);
    if (files === undefined) return streamThrough(source.stream(), envelope.createDecryptStream(options), sink.stream(), options.onProgress);
    const { size } = files;
    const head = Buffer.alloc(Math.min(size, MAX_HEADER_BYTES));
    const { bytesRead } = await files.input.read(head, 0, head.length, 0);
    if (bytesRead !== head.length) throw new InvalidCiphertextError(); // the file shrank
    const header = ciphertextGuard(() => parseHeader(head));
    if (header === undefined) throw new InvalidCiphertextError();
    if (header.algorithm !== ALG_GCM_SEGMENTED) {
      // one-message envelopes are authenticated as a whole: the stream path buffers them
      return streamThrough(source.stream(), envelope.createDecryptStream(options), sink.stream(), options.onProgress);
    }
    const body = size - header.bytes.length;
    const wire = header.segmentSize + GCM_TAG_BYTES;
    const segments = Math.max(1, Math.ceil(body / wire));
    const lastBytes = body - (segments - 1) * wire;
    if (lastBytes < GCM_TAG_BYTES || segments > MAX_SEGMENTS) throw new InvalidCiphertextError();
    // the worker threads boot while the data key is fetched
    const pool = startSegmentPool({ segments, segmentSize: header.segmentSize, threads, callingThread: options.callingThread === true });
    let key: Buffer;
    try {
      const lease = await envelope.provider.decryptionKey(header.source, options.context, canonical);
      try {
        key = ciphertextGuard(() => deriveSegmentKey(lease.key, header.salt));
      } finally {
        lease.done();
      }
    } catch (e) {
      await pool.cancel();
      throw e;
    }
    try {
      options.onProgress?.(header.bytes.length);
      await pool.run({
        mode: 'open', inFd: files.input.fd, outFd: files.output.fd, inBase: header.bytes.length, outBase: 0, segmentSize: header.segmentSize, segments,
        lastBytes, firstAad: Buffer.concat([header.bytes, canonical]), prefix: header.noncePrefix, key,
      }, options.onProgress).catch((e: unknown) => {
        // a ciphertext file that shrank under the workers is a truncated ciphertext
        throw (e as { code?: unknown }).code === 'InputChanged' ? new InvalidCiphertextError() : e;
      });
    } finally {
      zeroize(key);
    }
  });
}
