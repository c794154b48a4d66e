import { GCM_TAG_BYTES, randomBytes, zeroize } from '../crypto/index.js';
import {
  ALG_GCM_SEGMENTED, DEFAULT_SEGMENT_SIZE, NONCE_PREFIX_BYTES, SEGMENT_SALT_BYTES, checkSegmentSize, deriveSegmentKey,
  encodeHeader, openSegment, sealSegment, type EnvelopeHeader,
} from '../format/index.js';
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

/**
 * Encrypts a byte stream into algorithm 0x02 segments. A segment is sealed only once it is known
 * whether more input follows, so the last one carries the last-segment flag.
 */
export class SegmentEncryptor {
  readonly header: Buffer;
  private readonly key: Buffer;
  private readonly prefix: Buffer;
  private readonly segmentSize: number;
  private readonly queue = new ByteQueue();
  private firstAad: Buffer | undefined;
  private index = 0;
  private finished = false;

  /** `dataKey` is only read here (the per-stream key is derived from it at once). */
  constructor(dataKey: Uint8Array, encodedSource: Buffer, canonicalContext: Buffer, segmentSize = DEFAULT_SEGMENT_SIZE) {
    const stream = newSegmentStream(dataKey, encodedSource, segmentSize);
    this.segmentSize = segmentSize;
    this.header = stream.header;
    this.prefix = stream.prefix;
    this.key = stream.key;
    this.firstAad = Buffer.concat([this.header, canonicalContext]);
  }

  /** Ciphertext pieces for every segment that is now known not to be the last. */
  push(chunk: Buffer, out: Buffer[] = []): Buffer[] {
    this.queue.push(chunk);
    while (this.queue.length > this.segmentSize) this.seal(this.queue.take(this.segmentSize), false, out);
    return out;
  }

  /** The last segment (possibly empty); zeroizes the stream key. */
  end(out: Buffer[] = []): Buffer[] {
    if (this.finished) return out;
    this.seal(this.queue.takeAll(), true, out);
    this.finished = true;
    zeroize(this.key);
    return out;
  }

  /** Zeroizes the stream key without finishing (on error or abort). */
  destroy(): void {
    this.finished = true;
    zeroize(this.key);
  }

  private seal(plaintext: Buffer, last: boolean, out: Buffer[]): void {
    out.push(...sealSegment(this.key, this.prefix, this.index, last, plaintext, this.firstAad));
    this.firstAad = undefined;
    this.index++;
  }
}

/**
 * Decrypts algorithm 0x02 segments. Plaintext of a segment is returned only after its tag
 * verified; the last-segment flag is checked against the end of the input, so truncation at a
 * segment boundary, dropped, swapped or appended segments all fail with the one error.
 */
export class SegmentDecryptor {
  private readonly key: Buffer;
  private readonly prefix: Buffer;
  private readonly wireSize: number;
  private readonly queue = new ByteQueue();
  private firstAad: Buffer | undefined;
  private index = 0;
  private finished = false;

  constructor(header: EnvelopeHeader, dataKey: Uint8Array, canonicalContext: Buffer) {
    if (header.algorithm !== ALG_GCM_SEGMENTED) throw new InvalidCiphertextError();
    this.prefix = header.noncePrefix;
    this.wireSize = header.segmentSize + GCM_TAG_BYTES;
    this.key = deriveSegmentKey(dataKey, header.salt);
    this.firstAad = Buffer.concat([header.bytes, canonicalContext]);
  }

  push(chunk: Buffer, out: Buffer[] = []): Buffer[] {
    this.queue.push(chunk);
    while (this.queue.length > this.wireSize) this.open(this.queue.take(this.wireSize), false, out);
    return out;
  }

  end(out: Buffer[] = []): Buffer[] {
    if (this.finished) return out;
    if (this.queue.length < GCM_TAG_BYTES) {
      this.destroy();
      throw new InvalidCiphertextError();
    }
    this.open(this.queue.takeAll(), true, out);
    this.finished = true;
    zeroize(this.key);
    return out;
  }

  destroy(): void {
    this.finished = true;
    zeroize(this.key);
  }

  private open(sealed: Buffer, last: boolean, out: Buffer[]): void {
    try {
      out.push(...openSegment(this.key, this.prefix, this.index, last, sealed, this.firstAad));
    } catch {
      this.destroy();
      throw new InvalidCiphertextError();
    }
    this.firstAad = undefined;
    this.index++;
  }
}
