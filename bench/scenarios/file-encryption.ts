import { execFile } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, fsyncSync, openSync, closeSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, devNull } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { Envelope } from '../../src/client/index.js';
import { startInProcessKeyward } from '../lib/in-process-keyward.js';
import type { BenchContext, BenchRow, BenchScenario } from '../lib/types.js';

const execFileP = promisify(execFile);
const MiB = 2 ** 20;
const CHUNK = MiB;
const SEGMENT = 256 * 1024;
const OPENSSL = 'openssl speed -elapsed -evp aes-256-gcm, 16 KiB';
const GOAL_RATIO = 0.6;

/**
 * `openssl speed -elapsed -evp aes-256-gcm -bytes 16384` in MiB/s (openssl reports 1000s of
 * bytes/s). -elapsed: wall-clock time like our figures; by default openssl divides by its CPU
 * time, which on a busy machine flatters it against anything timed by the wall clock.
 */
export async function opensslGcm16k(seconds: number): Promise<number> {
  const { stdout } = await execFileP('openssl', ['speed', '-elapsed', '-evp', 'aes-256-gcm', '-bytes', '16384', '-seconds', String(seconds)], { encoding: 'utf8' });
  const m = /aes-256-gcm\s+([\d.]+)k\s*$/im.exec(stdout);
  if (m === null) throw new Error(`cannot read openssl speed output:\n${stdout}`);
  return (Number(m[1]) * 1000) / MiB;
}

export async function writeRandomFile(path: string, bytes: number): Promise<void> {
  const block = randomBytes(CHUNK);
  const out = createWriteStream(path);
  for (let written = 0; written < bytes; written += CHUNK) {
    if (!out.write(block)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  out.end();
  await new Promise<void>((r, j) => out.on('finish', () => r()).on('error', j));
}

export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * `keyward encrypt-file`'s engine (the SDK's Envelope.encryptFile/decryptFile: worker threads
 * reading and writing segments at their positions, default 256 KiB segments, one thread per core)
 * and the stream API it falls back to for pipes (createEncryptStream/createDecryptStream, one
 * thread) against `openssl speed -evp aes-256-gcm` at 16 KiB (one thread), measured in
 * interleaved rounds of the same run. Input comes from the page cache; "to disk" ends with an
 * fsync of the output.
 */
export const fileEncryption: BenchScenario = {
  name: 'File encryption (streamed AES-256-GCM segments)',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const size = (ctx.quick ? 256 : 1024) * MiB;
    const plainPath = join(ctx.tmpDir, 'file-encryption.plain');
    const sealedPath = join(ctx.tmpDir, 'file-encryption.kwe');
    const outPath = join(ctx.tmpDir, 'file-encryption.out');
    await writeRandomFile(plainPath, size);
    fsyncPath(plainPath); // its writeback would otherwise run through the first rounds
    const kw = await startInProcessKeyward(ctx);
    const { client, keyId } = kw;
    try {
      const envelope = new Envelope(client);
      const context = { bench: 'file-encryption' };
      const timed = async (fn: () => Promise<void>) => {
        const t = process.hrtime.bigint();
        await fn();
        return size / MiB / (Number(process.hrtime.bigint() - t) / 1e9);
      };
      const subjects = {
        openssl: async () => opensslGcm16k(ctx.quick ? 1 : 3),
        // node:crypto alone, in memory, one 256 KiB update per call, one thread (fresh output buffers each call)
        nodeCrypto: () => timed(async () => {
          const key = randomBytes(32);
          const block = randomBytes(SEGMENT);
          for (let done = 0; done < size; done += SEGMENT) {
            const c = createCipheriv('aes-256-gcm', key, randomBytes(12));
            c.update(block);
            c.final();
            c.getAuthTag();
          }
        }),
        copyNull: () => timed(() => pipeline(createReadStream(plainPath, { highWaterMark: CHUNK }), createWriteStream(devNull))),
        encryptNull: () => timed(() => envelope.encryptFile(plainPath, devNull, { keyId, context })),
        encryptNull1: () => timed(() => envelope.encryptFile(plainPath, devNull, { keyId, context, threads: 1 })),
        decryptNull: () => timed(() => envelope.decryptFile(sealedPath, devNull, { context })),
        streamEncryptNull: () => timed(() => pipeline(createReadStream(plainPath, { highWaterMark: CHUNK }), envelope.createEncryptStream({ keyId, context }), createWriteStream(devNull))),
        streamDecryptNull: () => timed(() => pipeline(createReadStream(sealedPath, { highWaterMark: CHUNK }), envelope.createDecryptStream({ context }), createWriteStream(devNull))),
        encryptDisk: () => timed(async () => {
          await envelope.encryptFile(plainPath, sealedPath, { keyId, context });
          fsyncPath(sealedPath);
        }),
        decryptDisk: () => timed(async () => {
          await envelope.decryptFile(sealedPath, outPath, { context });
          fsyncPath(outPath);
        }),
      };
      const results = Object.fromEntries(Object.keys(subjects).map((k) => [k, [] as number[]])) as Record<keyof typeof subjects, number[]>;
      // warm-up: page cache, JIT, worker modules, and the sealed file the decryption rounds read
      await subjects.encryptDisk();
      await subjects.decryptNull();
      // The disk rows get rounds of their own, after the others: replacing and fsyncing 1 GiB files
      // leaves the kernel busy long enough to halve the fs-stream rows of a following round.
      const disk = new Set<keyof typeof subjects>(['encryptDisk', 'decryptDisk']);
      const names = Object.keys(subjects) as Array<keyof typeof subjects>;
      for (const group of [names.filter((n) => !disk.has(n)), names.filter((n) => disk.has(n))]) {
        for (let r = 0; r < ctx.rounds; r++) {
          for (const name of group) {
            const v = await subjects[name]();
            results[name].push(v);
            ctx.log(`  round ${r + 1}/${ctx.rounds} ${name}: ${v.toFixed(0)} MiB/s`);
          }
        }
      }
      if (statSync(outPath).size !== size) throw new Error('decrypted size differs from the plaintext');
      const openssl = median(results.openssl);
      const threads = Math.min(availableParallelism(), 8);
      const row = (scenario: string, values: number[], goal: boolean, engine: string): BenchRow => {
        const value = median(values);
        const ratio = value / openssl;
        return {
          scenario, unit: 'MiB/s', value: Math.round(value), baseline: { name: OPENSSL, value: Math.round(openssl) }, ratio: Math.round(ratio * 100) / 100,
          ...(goal ? { goal: { text: `>= ${GOAL_RATIO} of openssl`, met: ratio >= GOAL_RATIO } } : {}),
          notes: `${size / MiB} MiB file from the page cache, 256 KiB segments, 1 data key from Keyward; ${engine}`,
        };
      };
      const files = `Envelope.encryptFile/decryptFile (keyward encrypt-file), ${threads} worker thread(s)`;
      const streams = 'createEncryptStream/createDecryptStream in fs pipelines, 1 thread';
      return [
        row('node:crypto AES-256-GCM in memory, 256 KiB calls (1 thread)', results.nodeCrypto, false, 'one update per call'),
        row('File copy to /dev/null, no encryption (I/O floor)', results.copyNull, false, 'fs streams'),
        row('File encryption to /dev/null', results.encryptNull, true, files),
        row('File encryption to /dev/null, 1 worker thread', results.encryptNull1, false, 'Envelope.encryptFile with threads: 1'),
        row('File encryption to disk (fsync)', results.encryptDisk, false, files),
        row('File decryption to /dev/null', results.decryptNull, false, files),
        row('File decryption to disk (fsync)', results.decryptDisk, false, files),
        row('Stream encryption to /dev/null (pipes, stdin)', results.streamEncryptNull, false, streams),
        row('Stream decryption to /dev/null (pipes, stdin)', results.streamDecryptNull, false, streams),
      ];
    } finally {
      await kw.close();
      for (const p of [plainPath, sealedPath, outPath]) rmSync(p, { force: true });
    }
  },
};
