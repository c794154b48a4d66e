import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { PassThrough, type Readable, type Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import { Envelope } from '../../client/index.js';
import { withClient, withConnection, type ConnectionFlags } from '../connection.js';
import { collect, keyValues, UsageError } from '../io.js';

interface FileFlags extends ConnectionFlags {
  readonly in: string;
  readonly out: string;
  readonly key?: string;
  readonly context?: string[];
  readonly segmentSize?: number;
  readonly progress?: boolean;
}

const CHUNK = 1 << 20;

/** Streaming file encryption: `keyward encrypt-file` / `keyward decrypt-file` (docs/formats.md). */
export function registerFile(program: Command): void {
  withConnection(program.command('encrypt-file'))
    .description('encrypt a file or stdin of any size into a segmented envelope (streamed, flat memory)')
    .requiredOption('--in <file>', 'plaintext file, or - for stdin')
    .requiredOption('--out <file>', 'envelope file, or - for stdout')
    .requiredOption('--key <key>', 'key id, ARN or alias that wraps the data key')
    .option('--context <key=value>', 'encryption context (repeatable; required again to decrypt)', collect)
    .option('--segment-size <bytes>', 'plaintext bytes per segment (default 262144 = 256 KiB)', (v) => Number(v))
    .option('--no-progress', 'no progress bar even on a terminal')
    .action((f: FileFlags) => withClient(f, async (client) => {
      const context = keyValues(f.context, '--context');
      if (f.segmentSize !== undefined && !Number.isInteger(f.segmentSize)) throw new UsageError('--segment-size must be an integer');
      const envelope = new Envelope(client);
      await run(f, envelope.createEncryptStream({ keyId: f.key!, ...(context ? { context } : {}), ...(f.segmentSize !== undefined ? { segmentSize: f.segmentSize } : {}) }));
    }));

  withConnection(program.command('decrypt-file'))
    .description('decrypt an envelope made by encrypt-file; writes nothing to --out unless every segment authenticates')
    .requiredOption('--in <file>', 'envelope file, or - for stdin')
    .requiredOption('--out <file>', 'plaintext file, or - for stdout (stdout gets each segment once it has authenticated)')
    .option('--context <key=value>', 'encryption context (repeatable)', collect)
    .option('--no-progress', 'no progress bar even on a terminal')
    .action((f: FileFlags) => withClient(f, async (client) => {
      const context = keyValues(f.context, '--context');
      await run(f, new Envelope(client).createDecryptStream(context ? { context } : {}));
    }));
}

/**
 * in -> transform -> out. A file output is written beside its target under a temporary name and
 * renamed only on success, so a failed or tampered run never leaves a partial file behind.
 */
async function run(f: FileFlags, transform: Transform): Promise<void> {
  if (f.in !== '-' && f.in === f.out) throw new UsageError('--in and --out must differ');
  const input: Readable = f.in === '-' ? process.stdin : createReadStream(f.in, { highWaterMark: CHUNK });
  const total = f.in === '-' ? undefined : statSync(f.in).size;
  const stages: Array<Readable | Transform | Writable> = [input];
  const bar = f.progress !== false && process.stderr.isTTY && total !== undefined ? progressBar(total) : undefined;
  if (bar !== undefined) {
    const meter = new PassThrough({ highWaterMark: CHUNK });
    let done = 0;
    meter.on('data', (c: Buffer) => bar.update((done += c.length)));
    stages.push(meter);
  }
  stages.push(transform);
  const partial = f.out === '-' ? undefined : join(dirname(f.out), `.${basename(f.out)}.${randomBytes(6).toString('hex')}.partial`);
  stages.push(partial === undefined ? process.stdout : createWriteStream(partial, { mode: 0o600, highWaterMark: CHUNK }));
  try {
    await pipeline(stages as unknown as [Readable, Writable]);
    if (partial !== undefined) renameSync(partial, f.out);
  } catch (e) {
    if (partial !== undefined) rmSync(partial, { force: true });
    throw e;
  } finally {
    bar?.stop();
  }
}

function progressBar(total: number): SingleBar {
  const bar = new SingleBar({
    stream: process.stderr,
    format: '{bar} {percentage}% | {value}/{total} bytes | {eta_formatted} left',
    hideCursor: true,
  }, Presets.shades_classic);
  bar.start(total, 0);
  return bar;
}
