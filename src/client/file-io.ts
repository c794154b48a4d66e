import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, realpath, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { availableParallelism, devNull } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { KeywardUsageError } from './errors.js';

/** Options common to Envelope.encryptFile and decryptFile. */
export interface FileOptions {
  /** Worker threads for a regular file of PARALLEL_MIN_BYTES or more (default: one per core, at most 8). */
  readonly threads?: number;
  /** Called as input bytes are consumed, with the bytes done since the last call. */
  readonly onProgress?: (bytes: number) => void;
  /**
   * The calling thread seals or opens a share of a parallel file itself, blocking its event loop
   * meanwhile, with one worker thread fewer (none with threads: 1): for command-line tools, where
   * that saves a thread's start and memory. Default false.
   */
  readonly callingThread?: boolean;
}

/**
 * From this size on, files go to worker threads. Starting them takes about 30 ms; measured on 2
 * cores, 16 MiB took 44 ms with workers against 31-42 ms streamed, 32 MiB 52-56 against 59-60 ms.
 */
export const PARALLEL_MIN_BYTES = 32 * 1024 * 1024;

const IO_CHUNK = 1024 * 1024;

export function threadsOf(options: FileOptions): number {
  const threads = options.threads ?? Math.min(availableParallelism(), 8);
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new KeywardUsageError('threads must be an integer from 1 to 64');
  return threads;
}

/** An opened input: `handle` and `size` only for a regular file (which can be read at positions). */
export interface FileInput {
  readonly handle: FileHandle | undefined;
  readonly size: number | undefined;
  stream(): Readable;
  close(): Promise<void>;
}

/** An input: a path is opened, a Readable is used as is. */
export async function openInput(input: string | Readable): Promise<FileInput> {
  if (typeof input !== 'string') return { handle: undefined, size: undefined, stream: () => input, close: async () => {} };
  const handle = await open(input, 'r');
  try {
    const s = await handle.stat();
    return {
      handle: s.isFile() ? handle : undefined,
      size: s.isFile() ? s.size : undefined,
      // the stream closes the handle when it ends (a stream that does not close never finishes a pipeline)
      stream: () => handle.createReadStream({ highWaterMark: IO_CHUNK }),
      close: () => closeOnce(handle),
    };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

/**
 * An output. A path to a regular file (or to nothing yet; a symbolic link is followed) is written
 * under a temporary name beside it, mode 0600, fsynced, and renamed into place only by commit(),
 * so a failed or tampered run never leaves a partial file and a crash never leaves a half-written
 * one in its place (the file is a new inode: hard links to the old one keep the old content). A
 * character device or a FIFO (the null device, /dev/stdout on a pipe or terminal) is written
 * directly; anything else is refused. A Writable is used as is.
 */
export class FileOutput {
  private constructor(
    private readonly target: Writable | string,
    readonly handle: FileHandle | undefined,
    /** True when writes may go to any position: a regular file or the null device. */
    readonly positional: boolean,
    private readonly partial: string | undefined,
  ) {}

  static async open(output: string | Writable): Promise<FileOutput> {
    if (typeof output !== 'string') return new FileOutput(output, undefined, false, undefined);
    const target = await resolveOutput(output);
    if (target !== undefined) {
      // the name is bounded: a long output name must not make the temporary one too long
      const partial = join(dirname(target), `.${basename(target).slice(0, 64)}.${randomBytes(6).toString('hex')}.partial`);
      return new FileOutput(target, await open(partial, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600), true, partial);
    }
    const handle = await open(output, constants.O_WRONLY);
    try {
      const s = await handle.stat();
      if (!s.isCharacterDevice() && !s.isFIFO()) throw new KeywardUsageError(`output ${output} is neither a regular file nor a character device or FIFO`);
      const isNull = s.isCharacterDevice() && s.rdev === (await stat(devNull)).rdev;
      return new FileOutput(output, handle, isNull, undefined);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  stream(): Writable {
    if (this.handle === undefined) return this.target as Writable;
    return this.handle.createWriteStream({ highWaterMark: IO_CHUNK });
  }

  async commit(): Promise<void> {
    if (this.partial === undefined) {
      if (this.handle !== undefined) await closeOnce(this.handle);
      return;
    }
    // written through a stream, the handle is closed by now: reopen to fsync
    const handle = this.handle!.fd === -1 ? await open(this.partial, 'r') : this.handle!;
    try {
      await handle.sync();
    } finally {
      await closeOnce(handle);
    }
    await rename(this.partial, this.target as string);
    await syncDirectory(dirname(this.target as string));
  }

  async abort(): Promise<void> {
    if (this.handle !== undefined) await closeOnce(this.handle).catch(() => undefined);
    if (this.partial !== undefined) await rm(this.partial, { force: true });
  }
}

/**
 * Where a regular-file output goes: the path itself if nothing is there yet, the file a symbolic
 * link points at, or undefined when the path is not a regular file (a device, a FIFO, a
 * /proc/self/fd link to a pipe, which does not resolve).
 */
async function resolveOutput(output: string): Promise<string | undefined> {
  const link = await lstat(output).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (link === undefined) return output;
  if (link.isFile()) return output;
  if (!link.isSymbolicLink()) return undefined;
  const resolved = await realpath(output).catch(() => undefined);
  if (resolved === undefined) return undefined;
  const s = await stat(resolved).catch(() => undefined);
  return s === undefined || s.isFile() ? resolved : undefined;
}

/** Makes a rename in `dir` durable (best effort: some file systems refuse fsync on a directory). */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  if (handle === undefined) return;
  try {
    await handle.sync().catch(() => undefined);
  } finally {
    await handle.close();
  }
}

/**
 * The input's size and both handles when the file goes to worker threads: a regular file of
 * PARALLEL_MIN_BYTES or more, read and written at positions (output a regular file or the null
 * device); else undefined.
 */
export function parallelFiles(source: FileInput, sink: FileOutput): { size: number; input: FileHandle; output: FileHandle } | undefined {
  if (source.handle === undefined || source.size === undefined || sink.handle === undefined || !sink.positional) return undefined;
  return source.size >= PARALLEL_MIN_BYTES ? { size: source.size, input: source.handle, output: sink.handle } : undefined;
}

/** Closes a handle unless a stream already did (a closed FileHandle's fd is -1). */
function closeOnce(handle: FileHandle): Promise<void> {
  return handle.fd === -1 ? Promise.resolve() : handle.close();
}

/** input -> transform -> output through streams, counting input bytes for onProgress. */
export async function streamThrough(input: Readable, transform: Transform, output: Writable, onProgress: ((bytes: number) => void) | undefined): Promise<void> {
  if (onProgress === undefined) return pipeline(input, transform, output);
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      try {
        onProgress(chunk.length);
      } catch (e) {
        callback(e as Error);
        return;
      }
      callback(null, chunk);
    },
  });
  return pipeline(input, meter, transform, output);
}

/**
 * Runs `write` against an opened input and output, then commits the output; on any failure the
 * output is aborted (a temporary file removed) and the error rethrown.
 */
export async function withFiles(
  input: string | Readable,
  output: string | Writable,
  write: (source: FileInput, sink: FileOutput) => Promise<void>,
): Promise<void> {
  if (typeof input === 'string' && typeof output === 'string' && resolve(input) === resolve(output)) throw new KeywardUsageError('input and output must be different files');
  const source = await openInput(input);
  try {
    const sink = await FileOutput.open(output);
    try {
      await write(source, sink);
      await sink.commit();
    } catch (e) {
      await sink.abort();
      throw e;
    }
  } finally {
    await source.close();
  }
}
