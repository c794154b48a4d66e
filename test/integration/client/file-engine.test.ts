import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { randomBytes } from 'node:crypto';
import { appendFileSync, createReadStream, existsSync, lstatSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { devNull } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as SdkModule from '../../../src/client/index.js';
import { startTestServer, tempDir, type TestServer } from '../../helpers/server.js';
import { failure } from '../../helpers/errors.js';

// The parallel engine runs its worker threads from the build (dist/client/file-worker.js), so
// this suite drives the built SDK, as users import it; the types come from the sources.
type Sdk = typeof SdkModule;
const DIST = pathToFileURL(resolve(import.meta.dirname, '../../../dist/client/index.js')).href;
const MiB = 2 ** 20;
const PARALLEL = 32 * MiB; // PARALLEL_MIN_BYTES
const SEG = 4096; // small segments: thousands of them, in many batches per worker
const CONTEXT = { tenant: 'acme', purpose: 'archive' };

describe('Envelope.encryptFile / decryptFile: the parallel file engine (built SDK, real Keyward)', () => {
  const dir = tempDir();
  let t: TestServer;
  let sdk: Sdk;
  let env: InstanceType<Sdk['Envelope']>;
  let keyId: string;
  const file = (name: string) => join(dir, name);
  const leftovers = () => readdirSync(dir).filter((n) => n.endsWith('.partial'));

  beforeAll(async () => {
    sdk = (await import(DIST)) as Sdk;
    t = await startTestServer();
    keyId = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    env = new sdk.Envelope(new sdk.KeywardClient({ endpoint: t.url, credentials: t.admin, maxAttempts: 1 }), { segmentSize: SEG });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // sizes around the threshold and the segment and batch boundaries (256 segments of 4 KiB a batch)
  const sizes = [PARALLEL, PARALLEL + 1, PARALLEL + SEG - 1, PARALLEL + SEG + 1, PARALLEL + 3 * MiB + 17];
  for (const size of sizes) {
    it(`${size} bytes: the parallel engine's envelope opens with the stream engine and back`, async () => {
      const plain = randomBytes(size);
      writeFileSync(file('in'), plain);
      let progress = 0;
      await env.encryptFile(file('in'), file('in.kwe'), { keyId, context: CONTEXT, threads: 3, onProgress: (n) => { progress += n; } });
      expect(progress).toBe(size);
      const sealed = readFileSync(file('in.kwe'));
      // header + every byte + one tag per segment (an exact multiple ends with a full last segment)
      expect(sealed.length - size - 16 * Math.max(1, Math.ceil(size / SEG))).toBeGreaterThan(40);
      expect(sealed.length - size - 16 * Math.max(1, Math.ceil(size / SEG))).toBeLessThan(512);
      // the stream engine (one thread, no positions) reads what the workers wrote...
      await env.decryptFile(createReadStream(file('in.kwe')), file('back-stream'), { context: CONTEXT });
      expect(readFileSync(file('back-stream')).equals(plain)).toBe(true);
      // ...and the workers read what the stream engine wrote
      await env.encryptFile(createReadStream(file('in')), file('in-stream.kwe'), { keyId, context: CONTEXT });
      progress = 0;
      await env.decryptFile(file('in-stream.kwe'), file('back-parallel'), { context: CONTEXT, threads: 2, onProgress: (n) => { progress += n; } });
      expect(progress).toBe(statSync(file('in-stream.kwe')).size);
      expect(readFileSync(file('back-parallel')).equals(plain)).toBe(true);
      expect(statSync(file('back-parallel')).mode & 0o777).toBe(0o600);
      expect(leftovers()).toEqual([]);
    }, 60_000);
  }

  describe('tampering, found by the workers: one InvalidCiphertextError, no output file, no partial file', () => {
    let sealed: Buffer;
    let headerLength: number;
    const wire = SEG + 16;
    beforeAll(async () => {
      writeFileSync(file('t.plain'), randomBytes(PARALLEL + 5 * SEG + 100));
      await env.encryptFile(file('t.plain'), file('t.kwe'), { keyId, context: CONTEXT });
      sealed = readFileSync(file('t.kwe'));
      headerLength = sealed.length - (PARALLEL + 5 * SEG + 100) - 16 * Math.ceil((PARALLEL + 5 * SEG + 100) / SEG);
    });
    const cases: Record<string, () => Buffer> = {
      'a bit flipped in the header': () => flip(sealed, 10),
      'a bit flipped in segment 0': () => flip(sealed, headerLength + 5),
      'a bit flipped in a middle segment': () => flip(sealed, headerLength + 4000 * wire + 123),
      'a bit flipped in the last tag': () => flip(sealed, sealed.length - 1),
      'the last segment dropped': () => sealed.subarray(0, sealed.length - 100 - 16),
      'truncated inside the last tag': () => sealed.subarray(0, sealed.length - 3),
      'two segments swapped': () => {
        const b = Buffer.from(sealed);
        const a = headerLength + 10 * wire;
        const c = headerLength + 7000 * wire;
        sealed.copy(b, a, c, c + wire);
        sealed.copy(b, c, a, a + wire);
        return b;
      },
      'a whole segment appended': () => Buffer.concat([sealed, sealed.subarray(headerLength + wire, headerLength + 2 * wire)]),
      'garbage appended': () => Buffer.concat([sealed, Buffer.from('garbage')]),
    };
    for (const [name, make] of Object.entries(cases)) {
      it(name, async () => {
        writeFileSync(file('t-bad.kwe'), make());
        const e = await failure(env.decryptFile(file('t-bad.kwe'), file('t.out'), { context: CONTEXT }));
        expect(e).toBeInstanceOf(sdk.InvalidCiphertextError);
        expect(existsSync(file('t.out'))).toBe(false);
        expect(leftovers()).toEqual([]);
      });
    }
    it('a wrong context', async () => {
      const e = await failure(env.decryptFile(file('t.kwe'), file('t.out'), { context: { tenant: 'other', purpose: 'archive' } }));
      expect((e as { code?: string }).code).toBe('InvalidCiphertextException');
      expect(existsSync(file('t.out'))).toBe(false);
      await env.decryptFile(file('t.kwe'), file('t.out'), { context: CONTEXT });
      expect(readFileSync(file('t.out')).equals(readFileSync(file('t.plain')))).toBe(true);
    });
  });

  it('callingThread: the calling thread takes a share (alone with threads: 1), byte-compatible both ways, and a bad segment still fails', async () => {
    const plain = randomBytes(PARALLEL + 5 * MiB + 3);
    writeFileSync(file('ct.plain'), plain);
    for (const threads of [1, 3]) {
      await env.encryptFile(file('ct.plain'), file('ct.kwe'), { keyId, context: CONTEXT, threads, callingThread: true });
      await env.decryptFile(file('ct.kwe'), file('ct.back'), { context: CONTEXT, threads: 2 });
      expect(readFileSync(file('ct.back')).equals(plain)).toBe(true);
      await env.encryptFile(file('ct.plain'), file('ct2.kwe'), { keyId, context: CONTEXT, threads: 2 });
      let progress = 0;
      await env.decryptFile(file('ct2.kwe'), file('ct.back'), { context: CONTEXT, threads, callingThread: true, onProgress: (n) => { progress += n; } });
      expect(readFileSync(file('ct.back')).equals(plain)).toBe(true);
      expect(progress).toBe(statSync(file('ct2.kwe')).size);
      // a flipped byte in the calling thread's share (the first batch) and in the last segment
      for (const at of [200, statSync(file('ct2.kwe')).size - 3]) {
        const bad = readFileSync(file('ct2.kwe'));
        bad[at]! ^= 1;
        writeFileSync(file('ct-bad.kwe'), bad);
        const e = await failure(env.decryptFile(file('ct-bad.kwe'), file('ct.out'), { context: CONTEXT, threads, callingThread: true }));
        expect(e).toBeInstanceOf(sdk.InvalidCiphertextError);
        expect(existsSync(file('ct.out'))).toBe(false);
      }
    }
    expect(leftovers()).toEqual([]);
  }, 240_000);

  it('worker threads started before the data key arrives are stopped when the key call fails, and nothing is left', async () => {
    writeFileSync(file('k.plain'), randomBytes(PARALLEL));
    const e = await failure(env.encryptFile(file('k.plain'), file('k.kwe'), { keyId: 'alias/no-such-key', threads: 3 }));
    expect((e as { code?: string }).code).toBe('NotFoundException');
    expect(existsSync(file('k.kwe'))).toBe(false);
    expect(leftovers()).toEqual([]);
  });

  it('writes to the null device directly (never a temporary file beside it, never a rename over it)', async () => {
    writeFileSync(file('n.plain'), randomBytes(PARALLEL + 1));
    await env.encryptFile(file('n.plain'), devNull, { keyId });
    await env.encryptFile(file('n.plain'), file('n.kwe'), { keyId });
    await env.decryptFile(file('n.kwe'), devNull);
    expect(statSync(devNull).isCharacterDevice()).toBe(true);
    expect(readdirSync('/dev').filter((n) => n.includes('.partial'))).toEqual([]);
  });

  it('an input that shrinks or grows while it is encrypted fails, and leaves no output', async () => {
    writeFileSync(file('c.plain'), randomBytes(64 * MiB));
    let cut = false;
    const shrunk = await failure(env.encryptFile(file('c.plain'), file('c.kwe'), {
      keyId, threads: 1, onProgress: () => { if (!cut) { cut = true; truncateSync(file('c.plain'), 20 * MiB); } },
    }));
    expect(String((shrunk as Error).message)).toMatch(/shorter|changed size/);
    writeFileSync(file('c.plain'), randomBytes(64 * MiB));
    let grown = false;
    const grew = await failure(env.encryptFile(file('c.plain'), file('c.kwe'), {
      keyId, threads: 1, onProgress: () => { if (!grown) { grown = true; appendFileSync(file('c.plain'), 'more'); } },
    }));
    expect((grew as Error).message).toMatch(/changed size/);
    expect(existsSync(file('c.kwe'))).toBe(false);
    expect(leftovers()).toEqual([]);
  });

  it('an onProgress that throws fails the operation with its error, on either engine, and leaves nothing', async () => {
    writeFileSync(file('o.plain'), randomBytes(PARALLEL + 1));
    const boom = () => { throw new Error('progress sink broke'); };
    for (const input of [() => file('o.plain'), () => createReadStream(file('o.plain'))]) {
      const e = await failure(env.encryptFile(input(), file('o.kwe'), { keyId, onProgress: boom }));
      expect((e as Error).message).toBe('progress sink broke');
    }
    expect(existsSync(file('o.kwe'))).toBe(false);
    expect(leftovers()).toEqual([]);
  });

  it('outputs: a symbolic link is followed (and stays a link), a link to the null device is written directly, a long name works', async () => {
    writeFileSync(file('s.plain'), randomBytes(PARALLEL + 7));
    writeFileSync(file('s-target.kwe'), 'old');
    symlinkSync(file('s-target.kwe'), file('s-link.kwe'));
    await env.encryptFile(file('s.plain'), file('s-link.kwe'), { keyId });
    expect(lstatSync(file('s-link.kwe')).isSymbolicLink()).toBe(true);
    await env.decryptFile(file('s-target.kwe'), file('s.back'));
    expect(readFileSync(file('s.back')).equals(readFileSync(file('s.plain')))).toBe(true);
    symlinkSync(devNull, file('null-link'));
    await env.encryptFile(file('s.plain'), file('null-link'), { keyId });
    expect(lstatSync(file('null-link')).isSymbolicLink()).toBe(true);
    expect(statSync(devNull).isCharacterDevice()).toBe(true);
    const long = file(`${'n'.repeat(240)}.kwe`);
    await env.encryptFile(file('s.plain'), long, { keyId });
    expect(statSync(long).size).toBeGreaterThan(PARALLEL);
    expect(leftovers()).toEqual([]);
  });

  it('a file that would need more than 2^32 segments is refused before anything is written (sparse 65 GiB file)', async () => {
    writeFileSync(file('huge.plain'), '');
    truncateSync(file('huge.plain'), 65 * 2 ** 30);
    try {
      const e = await failure(env.encryptFile(file('huge.plain'), file('huge.kwe'), { keyId, segmentSize: 16 }));
      expect(e).toBeInstanceOf(sdk.KeywardUsageError);
      expect((e as Error).message).toMatch(/2\^32 segments/);
      expect(existsSync(file('huge.kwe'))).toBe(false);
      expect(leftovers()).toEqual([]);
    } finally {
      rmSync(file('huge.plain'));
    }
  });

  it('bad arguments are refused before anything is written', async () => {
    writeFileSync(file('a.plain'), 'x');
    const same = await failure(env.encryptFile(file('a.plain'), join(dir, '.', 'a.plain'), { keyId }));
    expect((same as Error).message).toMatch(/different files/);
    const threads = await failure(env.encryptFile(file('a.plain'), file('a.kwe'), { keyId, threads: 0 }));
    expect(threads).toBeInstanceOf(sdk.KeywardUsageError);
    const missing = await failure(env.encryptFile(file('nope'), file('a.kwe'), { keyId }));
    expect((missing as { code?: string }).code).toBe('ENOENT');
    const noDir = await failure(env.encryptFile(file('a.plain'), join(dir, 'no', 'such', 'dir'), { keyId }));
    expect((noDir as { code?: string }).code).toBe('ENOENT');
    expect(existsSync(file('a.kwe'))).toBe(false);
    expect(readFileSync(file('a.plain'), 'utf8')).toBe('x');
    expect(leftovers()).toEqual([]);
  });
});

function flip(b: Buffer, at: number): Buffer {
  const c = Buffer.from(b);
  c[at]! ^= 0x01;
  return c;
}
