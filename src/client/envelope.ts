import { randomFillSync } from 'node:crypto';
import { Transform, type Readable, type TransformCallback, type Writable } from 'node:stream';
import { GCM_NONCE_BYTES } from '../crypto/aead.js';
import { ALG_GCM_MESSAGE, ALG_GCM_SEGMENTED, DEFAULT_SEGMENT_SIZE, checkSegmentSize, openMessage, parseHeader, sealMessage, type EnvelopeHeader } from '../format/envelope.js';
import type { DataKeyCacheLimits } from './data-key-cache.js';
import { contextBytes } from './context.js';
import { decryptFile, type DecryptFileOptions } from './decrypt-file.js';
import { encryptFile, type EncryptFileOptions } from './encrypt-file.js';
import { InvalidCiphertextError, KeywardUsageError, ciphertextGuard } from './errors.js';
import type { DataKeyLease, EncryptionKeyRequest, KeyProvider } from './key-provider.js';
import { KeywardClient, type EncryptionContext } from './keyward-client.js';
import { KmsKeyProvider } from './kms-key-provider.js';
import { SegmentDecryptor, SegmentEncryptor } from './segments.js';

export interface EnvelopeOptions {
  /** Data-key cache limits for a KMS-backed envelope (default: on, DEFAULT_CACHE_LIMITS), or false. */
  readonly cache?: DataKeyCacheLimits | false;
  /** Plaintext bytes per stream segment (default 256 KiB). */
  readonly segmentSize?: number;
}

export interface EncryptOptions {
  /** Keyward key id, ARN or alias (not needed with a local keyset). */
  readonly keyId?: string;
  /** Authenticated, not encrypted; the same map is required to decrypt. */
  readonly context?: EncryptionContext;
}

export interface EncryptStreamOptions extends EncryptOptions {
  readonly segmentSize?: number;
}

export interface DecryptOptions {
  readonly context?: EncryptionContext;
}

/**
 * Envelope encryption on the client: data is encrypted locally with a data key from a
 * KeyProvider (Keyward, through the data-key cache, or a local keyset) and the wrapped key
 * travels in the self-describing envelope (docs/formats.md). Every decryption failure is the one
 * InvalidCiphertextError.
 */
export class Envelope {
  readonly provider: KeyProvider;
  /** Plaintext bytes per segment of the streams and files this envelope makes. */
  readonly segmentSize: number;

  constructor(source: KeywardClient | KeyProvider, options: EnvelopeOptions = {}) {
    this.provider = source instanceof KeywardClient ? new KmsKeyProvider(source, options.cache === undefined ? {} : { cache: options.cache }) : source;
    this.segmentSize = options.segmentSize ?? DEFAULT_SEGMENT_SIZE;
    checkSegmentSize(this.segmentSize);
  }

  /** Encrypts an in-memory plaintext into one envelope (algorithm 0x01). */
  encrypt(plaintext: Uint8Array, options: EncryptOptions = {}): Promise<Buffer> {
    let request: EncryptionKeyRequest;
    try {
      if (!(plaintext instanceof Uint8Array)) throw new KeywardUsageError('plaintext must be a Buffer or Uint8Array');
      request = { keyId: options.keyId, context: options.context, canonicalContext: contextBytes(options.context), bytes: plaintext.length };
      // a cache hit is answered without a detour through the event loop
      const lease = this.provider.cachedEncryptionKey?.(request);
      if (lease !== undefined) return Promise.resolve(sealWith(lease, plaintext, request.canonicalContext));
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return this.provider.encryptionKey(request).then((lease) => sealWith(lease, plaintext, request.canonicalContext));
  }

  /** Decrypts an envelope made by encrypt() or a stream; any failure is InvalidCiphertextError. */
  async decrypt(envelope: Uint8Array, options: DecryptOptions = {}): Promise<Buffer> {
    const canonical = contextBytes(options.context);
    const bytes = Buffer.from(envelope.buffer, envelope.byteOffset, envelope.byteLength);
    const header = ciphertextGuard(() => parseHeader(bytes));
    if (header === undefined) throw new InvalidCiphertextError();
    const lease = await this.provider.decryptionKey(header.source, options.context, canonical);
    try {
      return ciphertextGuard(() => {
        if (header.algorithm === ALG_GCM_MESSAGE) return openMessage(lease.key, header, bytes, canonical);
        const d = new SegmentDecryptor(header, lease.key, canonical);
        const out = d.push(bytes.subarray(header.bytes.length));
        return Buffer.concat(d.end(out));
      });
    } finally {
      lease.done();
    }
  }

  /**
   * Encrypts a file into a segmented envelope file: paths, or a Readable and a Writable (such as
   * stdin and stdout). Regular files of 32 MiB and more are sealed by worker threads in parallel
   * (a few MiB of memory each; the threads run dist/client/file-worker.js, so this needs the
   * built package); a file output is written under a temporary name, fsynced, and renamed into
   * place only on success.
   */
  encryptFile(input: string | Readable, output: string | Writable, options: EncryptFileOptions = {}): Promise<void> {
    return encryptFile(this, input, output, options);
  }

  /**
   * Decrypts a file made by encryptFile or a stream (paths, or a Readable and a Writable). Every
   * failure is InvalidCiphertextError, and a file output then never appears.
   */
  decryptFile(input: string | Readable, output: string | Writable, options: DecryptFileOptions = {}): Promise<void> {
    return decryptFile(this, input, output, options);
  }

  /** A Transform from plaintext to a segmented envelope (algorithm 0x02), in flat memory. */
  createEncryptStream(options: EncryptStreamOptions = {}): Transform {
    const canonical = contextBytes(options.context);
    const segmentSize = options.segmentSize ?? this.segmentSize;
    checkSegmentSize(segmentSize);
    let encryptor: SegmentEncryptor | undefined;
    const start = async (stream: Transform): Promise<SegmentEncryptor> => {
      if (encryptor !== undefined) return encryptor;
      const lease = await this.provider.encryptionKey({ keyId: options.keyId, context: options.context, canonicalContext: canonical, bytes: 0 });
      try {
        encryptor = new SegmentEncryptor(lease.key, lease.encodedSource, canonical, segmentSize);
      } finally {
        lease.done();
      }
      stream.push(encryptor.header);
      return encryptor;
    };
    return new Transform({
      transform(chunk: Buffer, _encoding, callback: TransformCallback) {
        start(this).then((e) => {
          pushJoined(this, e.push(chunk));
          callback();
        }, callback);
      },
      flush(callback: TransformCallback) {
        start(this).then((e) => {
          pushJoined(this, e.end());
          callback();
        }, callback);
      },
      destroy(error, callback) {
        encryptor?.destroy();
        callback(error);
      },
    });
  }

  /**
   * A Transform from an envelope back to plaintext. Segmented envelopes stream in flat memory and
   * release each segment only after it authenticated; a one-message envelope is buffered whole.
   * The stream fails with InvalidCiphertextError on any tampering, truncation or wrong context.
   */
  createDecryptStream(options: DecryptOptions = {}): Transform {
    const canonical = contextBytes(options.context);
    const provider = this.provider;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let header: EnvelopeHeader | undefined;
    let decryptor: SegmentDecryptor | undefined;
    let single: { key: Buffer; done: () => void } | undefined;

    const accept = async (stream: Transform, input: Buffer | undefined): Promise<void> => {
      const ending = input === undefined;
      let chunk = input;
      if (header === undefined) {
        if (chunk !== undefined) pending.push(chunk);
        const head = Buffer.concat(pending);
        header = ciphertextGuard(() => parseHeader(head));
        if (header === undefined) {
          if (ending) throw new InvalidCiphertextError();
          pending = [head];
          return;
        }
        pending = [];
        const lease = await provider.decryptionKey(header.source, options.context, canonical);
        if (header.algorithm === ALG_GCM_SEGMENTED) {
          try {
            const h = header;
            decryptor = ciphertextGuard(() => new SegmentDecryptor(h, lease.key, canonical));
          } finally {
            lease.done();
          }
        } else {
          single = lease;
        }
        chunk = head.subarray(header.bytes.length);
      }
      if (decryptor !== undefined) {
        const d = decryptor;
        const data = chunk;
        const out = ciphertextGuard(() => {
          const o = data === undefined ? [] : d.push(data);
          return ending ? d.end(o) : o;
        });
        pushJoined(stream, out);
        return;
      }
      if (chunk !== undefined) {
        pending.push(chunk);
        pendingBytes += chunk.length;
        // bounded: an untrusted input must not make a stream buffer without limit
        if (pendingBytes > MAX_STREAMED_MESSAGE_BYTES) {
          throw new KeywardUsageError(`a one-message envelope over ${MAX_STREAMED_MESSAGE_BYTES} bytes cannot be decrypted as a stream; use Envelope.decrypt()`);
        }
      }
      if (ending && single !== undefined) {
        const s = single;
        const h = header;
        const body = Buffer.concat(pending);
        pending = [];
        try {
          stream.push(ciphertextGuard(() => openMessage(s.key, h, Buffer.concat([h.bytes, body]), canonical)));
        } finally {
          s.done();
          single = undefined;
        }
      }
    };
    return new Transform({
      transform(chunk: Buffer, _encoding, callback: TransformCallback) {
        accept(this, chunk).then(() => callback(), callback);
      },
      flush(callback: TransformCallback) {
        accept(this, undefined).then(() => callback(), callback);
      },
      destroy(error, callback) {
        decryptor?.destroy();
        single?.done();
        single = undefined;
        callback(error);
      },
    });
  }
}

/**
 * One push per input chunk: a sink such as fs.WriteStream pays a system call per chunk, which
 * costs more than joining the segments of one chunk (measured: 4x at 64 KiB segments).
 */
function pushJoined(stream: Transform, pieces: Buffer[]): void {
  if (pieces.length === 1) stream.push(pieces[0]);
  else if (pieces.length > 1) stream.push(Buffer.concat(pieces));
}

function sealWith(lease: DataKeyLease, plaintext: Uint8Array, canonical: Buffer): Buffer {
  try {
    return sealMessage(lease.key, lease.encodedSource, nextNonce(), plaintext, canonical);
  } finally {
    lease.done();
  }
}

/** One-message envelopes (algorithm 0x01) are authenticated only at their end, so a decrypt stream buffers them whole, up to this. */
export const MAX_STREAMED_MESSAGE_BYTES = 64 * 1024 * 1024;

// Nonces come from a pooled CSPRNG buffer: one randomFillSync per 341 messages, not one per message.
const NONCE_POOL = Buffer.allocUnsafe(GCM_NONCE_BYTES * 341);
let nonceOffset = NONCE_POOL.length;

function nextNonce(): Buffer {
  if (nonceOffset + GCM_NONCE_BYTES > NONCE_POOL.length) {
    randomFillSync(NONCE_POOL);
    nonceOffset = 0;
  }
  // each nonce is handed out once: the pool is refilled, never reread
  const nonce = NONCE_POOL.subarray(nonceOffset, nonceOffset + GCM_NONCE_BYTES);
  nonceOffset += GCM_NONCE_BYTES;
  return nonce;
}
