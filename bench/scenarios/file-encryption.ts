import { execFile } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, fsyncSync, openSync, closeSync, rmSync, statSync } from 'node:fs';
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

async function writeRandomFile(path: string, bytes: number): Promise<void> {
  const block = randomBytes(CHUNK);
  const out = createWriteStream(path);
  for (let written = 0; written < bytes; written += CHUNK) {
    if (!out.write(block)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  out.end();
  await new Promise<void>((r, j) => out.on('finish', () => r()).on('error', j));
}

function fsyncPath(path: string): void {
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
 * `keyward encrypt-file`'s engine (the SDK's createEncryptStream/createDecryptStream, file in
 * through fs streams, default 256 KiB segments) against `openssl speed -evp aes-256-gcm` at
 * 16 KiB, measured in interleaved rounds of the same run. Input comes from the page cache; "to
 * disk" ends with an fsync of the output.
 */
export const fileEncryption: BenchScenario = {
  name: 'File encryption (streamed AES-256-GCM segments)',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const size = (ctx.quick ? 256 : 1024) * MiB;
    const plainPath = join(ctx.tmpDir, 'file-encryption.plain');
    const sealedPath = join(ctx.tmpDir, 'file-encryption.kwe');
    const outPath = join(ctx.tmpDir, 'file-encryption.out');
    await writeRandomFile(plainPath, size);
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
        // the ceiling for any node program: node:crypto alone, in memory, 256 KiB per call
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
        copyNull: () => timed(() => pipeline(createReadStream(plainPath, { highWaterMark: CHUNK }), createWriteStream('/dev/null'))),
        encryptNull: () => timed(() => pipeline(createReadStream(plainPath, { highWaterMark: CHUNK }), envelope.createEncryptStream({ keyId, context }), createWriteStream('/dev/null'))),
        encryptDisk: () => timed(async () => {
          await pipeline(createReadStream(plainPath, { highWaterMark: CHUNK }), envelope.createEncryptStream({ keyId, context }), createWriteStream(sealedPath, { highWaterMark: CHUNK }));
          fsyncPath(sealedPath);
        }),
        decryptNull: () => timed(() => pipeline(createReadStream(sealedPath, { highWaterMark: CHUNK }), envelope.createDecryptStream({ context }), createWriteStream('/dev/null'))),
        decryptDisk: () => timed(async () => {
          await pipeline(createReadStream(sealedPath, { highWaterMark: CHUNK }), envelope.createDecryptStream({ context }), createWriteStream(outPath, { highWaterMark: CHUNK }));
          fsyncPath(outPath);
        }),
      };
      const results: Record<keyof typeof subjects, number[]> = { openssl: [], nodeCrypto: [], copyNull: [], encryptNull: [], encryptDisk: [], decryptNull: [], decryptDisk: [] };
      // warm-up: page cache, JIT, and the sealed file the decryption rounds read
      await subjects.encryptDisk();
      await subjects.decryptNull();
      for (let r = 0; r < ctx.rounds; r++) {
        for (const name of Object.keys(subjects) as Array<keyof typeof subjects>) {
          const v = await subjects[name]();
          results[name].push(v);
          ctx.log(`  round ${r + 1}/${ctx.rounds} ${name}: ${v.toFixed(0)} MiB/s`);
        }
      }
      if (statSync(outPath).size !== size) throw new Error('decrypted size differs from the plaintext');
      const openssl = median(results.openssl);
      const row = (scenario: string, values: number[], goal: boolean): BenchRow => {
        const value = median(values);
        const ratio = value / openssl;
        return {
          scenario, unit: 'MiB/s', value: Math.round(value), baseline: { name: OPENSSL, value: Math.round(openssl) }, ratio: Math.round(ratio * 100) / 100,
          ...(goal ? { goal: { text: `>= ${GOAL_RATIO} of openssl`, met: ratio >= GOAL_RATIO } } : {}),
          notes: `${size / MiB} MiB file from the page cache, 256 KiB segments, 1 data key from Keyward`,
        };
      };
      return [
        row('node:crypto AES-256-GCM in memory, 256 KiB calls (ceiling for node)', results.nodeCrypto, false),
        row('File copy to /dev/null, no encryption (I/O floor)', results.copyNull, false),
        row('File encryption to /dev/null', results.encryptNull, true),
        row('File encryption to disk (fsync)', results.encryptDisk, false),
        row('File decryption to /dev/null', results.decryptNull, false),
        row('File decryption to disk (fsync)', results.decryptDisk, false),
      ];
    } finally {
      await kw.close();
      for (const p of [plainPath, sealedPath, outPath]) rmSync(p, { force: true });
    }
  },
};
