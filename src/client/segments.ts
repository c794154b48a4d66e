import { GCM_TAG_BYTES } from '../crypto/aead.js';
import { randomBytes } from '../crypto/random.js';
import { zeroize } from '../crypto/zeroize.js';
import { ALG_GCM_SEGMENTED, DEFAULT_SEGMENT_SIZE, NONCE_PREFIX_BYTES, SEGMENT_SALT_BYTES, checkSegmentSize, deriveSegmentKey, encodeHeader, openSegment, sealSegment, type EnvelopeHeader } from '../format/envelope.js';
import { InvalidCiphertextError } from './errors.js';

/** A FIFO of buffers from which fixed-size pieces are taken, copying only when a piece spans chunks. */
class ByteQueue {
  private chunks: Buffer[] = [];
  private head = 0;
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  take(n: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length - this.head >= n) {
      const out = first.subarray(this.head, this.head + n);
      this.head += n;
      if (this.head === first.length) {
        this.chunks.shift();
        this.head = 0;
      }
      this.length -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const copied = c.copy(out, filled, this.head, Math.min(c.length, this.head + n - filled));
      filled += copied;
      this.head += copied;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    this.length -= n;
    return out;
  }

  takeAll(): Buffer {
    return this.take(this.length);
  }
}

/** A new segmented stream: its header, nonce prefix and stream key (the caller zeroizes the key). */
export function newSegmentStream(dataKey: Uint8Array, encodedSource: Buffer, segmentSize: number): { header: Buffer; prefix: Buffer; key: Buffer } {
  checkSegmentSize(segmentSize);
  const salt = randomBytes(SEGMENT_SALT_BYTES);
  const prefix = randomBytes(NONCE_PREFIX_BYTES);
  const header = encodeHeader(encodedSource, { algorithm: ALG_GCM_SEGMENTED, segmentSize, salt, noncePrefix: prefix });
  return { header, prefix, key: deriveSegmentKey(dataKey, salt) };
}

type SegmentStep = (key: Buffer, prefix: Buffer, index: number, last: boolean, input: Uint8Array, aad: Buffer | undefined) => Buffer[];

/**
 * What sealing and opening a stream share: input is queued until a whole segment is known not
 * to be the last (a segment and one more byte), every segment goes through `step` with its
 * counter, and segment 0 alone carries header || context as AAD. The stream key is zeroized at
 * the end, on destroy() and on any failure.
 */
abstract class SegmentCodec {
  private readonly queue = new ByteQueue();
  private firstAad: Buffer | undefined;
  private index = 0;
  private finished = false;

  protected constructor(
    private readonly key: Buffer,
    private readonly prefix: Buffer,
    /** Input bytes per segment (plaintext when sealing, ciphertext || tag when opening). */
    private readonly unit: number,
    firstAad: Buffer,
    private readonly step: SegmentStep,
  ) {
    this.firstAad = firstAad;
  }

  /** Output pieces of every segment that is now known not to be the last. */
  push(chunk: Buffer, out: Buffer[] = []): Buffer[] {
    this.queue.push(chunk);
    while (this.queue.length > this.unit) this.run(this.queue.take(this.unit), false, out);
    return out;
  }

  /** Output pieces of the last segment (possibly empty when sealing). */
  end(out: Buffer[] = []): Buffer[] {
    if (this.finished) return out;
    this.run(this.queue.takeAll(), true, out);
    this.destroy();
    return out;
  }

  /** Zeroizes the stream key without finishing (on error or abort). */
  destroy(): void {
    this.finished = true;
    zeroize(this.key);
  }

  /** The error a failed step becomes. */
  protected abstract failure(error: unknown): unknown;

  private run(input: Buffer, last: boolean, out: Buffer[]): void {
    try {
      out.push(...this.step(this.key, this.prefix, this.index, last, input, this.firstAad));
    } catch (e) {
      this.destroy();
      throw this.failure(e);
    }
    this.firstAad = undefined;
    this.index++;
  }
}

/**
 * Encrypts a byte stream into algorithm 0x02 segments. A segment is sealed only once it is known
 * whether more input follows, so the last one carries the last-segment flag.
 */
export class SegmentEncryptor extends SegmentCodec {
  readonly header: Buffer;

  /** `dataKey` is only read here (the per-stream key is derived from it at once). */
  constructor(dataKey: Uint8Array, encodedSource: Buffer, canonicalContext: Buffer, segmentSize = DEFAULT_SEGMENT_SIZE) {
    const stream = newSegmentStream(dataKey, encodedSource, segmentSize);
    super(stream.key, stream.prefix, segmentSize, Buffer.concat([stream.header, canonicalContext]), sealSegment);
    this.header = stream.header;
  }

  protected failure(error: unknown): unknown {
    return error;
  }
}

/**
 * Decrypts algorithm 0x02 segments. Plaintext of a segment is returned only after its tag
 * verified; the last-segment flag is checked against the end of the input, so truncation at a
 * segment boundary, dropped, swapped or appended segments all fail with the one error (a last
 * segment shorter than its tag included).
 */
export class SegmentDecryptor extends SegmentCodec {
  constructor(header: EnvelopeHeader, dataKey: Uint8Array, canonicalContext: Buffer) {
    if (header.algorithm !== ALG_GCM_SEGMENTED) throw new InvalidCiphertextError();
    super(deriveSegmentKey(dataKey, header.salt), header.noncePrefix, header.segmentSize + GCM_TAG_BYTES, Buffer.concat([header.bytes, canonicalContext]), openSegment);
  }

  protected failure(): unknown {
    return new InvalidCiphertextError();
  }
}
