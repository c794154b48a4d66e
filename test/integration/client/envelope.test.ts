import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Envelope, InvalidCiphertextError, KeywardClient, KmsKeyProvider } from '../../../src/client/index.js';
import { DEFAULT_SEGMENT_SIZE, parseHeader } from '../../../src/format/index.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { failure } from '../../helpers/errors.js';

const SEG = 64; // small segments so every tamper case has several of them
const CONTEXT = { tenant: 'acme', purpose: 'backup' };

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Feeds `input` in uneven chunks, so segment boundaries never line up with chunk boundaries. */
function chunked(input: Buffer, sizes = [1, 7, 100, 33, 4096]): Readable {
  const pieces: Buffer[] = [];
  for (let off = 0, i = 0; off < input.length; i++) {
    const n = sizes[i % sizes.length]!;
    pieces.push(input.subarray(off, off + n));
    off += n;
  }
  return Readable.from(pieces);
}

async function streamEncrypt(env: Envelope, plaintext: Buffer, opts: Parameters<Envelope['createEncryptStream']>[0]): Promise<Buffer> {
  return collect(chunked(plaintext).pipe(env.createEncryptStream(opts)));
}

async function streamDecrypt(env: Envelope, envelope: Buffer, context?: Record<string, string>): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(chunked(envelope), env.createDecryptStream(context ? { context } : {}), new Writable({
    write(c: Buffer, _e, cb) { out.push(c); cb(); },
  }));
  return Buffer.concat(out);
}

describe('client envelopes and streams against a real Keyward', () => {
  let t: TestServer;
  let keyId: string;
  let client: KeywardClient;
  let env: Envelope;
  beforeAll(async () => {
    t = await startTestServer();
    keyId = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    client = new KeywardClient({ endpoint: t.url, credentials: t.admin, maxAttempts: 1 });
    env = new Envelope(client);
  });
  afterAll(async () => {
    client?.close();
    await t?.close();
  });

  it('encrypt/decrypt round-trips in memory at 0, 1, 4096 and 1 MiB bytes, with and without context', async () => {
    for (const size of [0, 1, 4096, 1 << 20]) {
      const plaintext = randomBytes(size);
      const sealed = await env.encrypt(plaintext, { keyId, context: CONTEXT });
      expect(sealed.subarray(0, 3).toString()).toBe('KWE');
      if (size >= 32) expect(sealed.includes(plaintext.subarray(0, 32))).toBe(false);
      expect((await env.decrypt(sealed, { context: { purpose: 'backup', tenant: 'acme' } })).equals(plaintext)).toBe(true);
      const bare = await env.encrypt(plaintext, { keyId });
      expect((await env.decrypt(bare)).equals(plaintext)).toBe(true);
    }
  });

  it('streams round-trip at sizes 0, 1, segment-1, segment, segment+1 and several segments', async () => {
    for (const size of [0, 1, SEG - 1, SEG, SEG + 1, 5 * SEG, 5 * SEG + 3]) {
      const plaintext = randomBytes(size);
      const sealed = await streamEncrypt(env, plaintext, { keyId, context: CONTEXT, segmentSize: SEG });
      const header = parseHeader(sealed)!;
      expect(header.algorithm).toBe(0x02);
      // exactly ceil(size / SEG) segments, at least one (the empty final segment)
      const segments = Math.max(1, Math.ceil(size / SEG));
      expect(sealed.length).toBe(header.bytes.length + size + 16 * segments);
      expect((await streamDecrypt(env, sealed, CONTEXT)).equals(plaintext)).toBe(true);
      expect((await env.decrypt(sealed, { context: CONTEXT })).equals(plaintext)).toBe(true);
    }
  });

  it('the default 256 KiB segment size round-trips at segment-1, segment, segment+1', async () => {
    for (const size of [DEFAULT_SEGMENT_SIZE - 1, DEFAULT_SEGMENT_SIZE, DEFAULT_SEGMENT_SIZE + 1]) {
      const plaintext = randomBytes(size);
      const sealed = await streamEncrypt(env, plaintext, { keyId, context: CONTEXT });
      expect(parseHeader(sealed)!).toMatchObject({ segmentSize: 262144 });
      expect((await streamDecrypt(env, sealed, CONTEXT)).equals(plaintext)).toBe(true);
    }
  });

  it('a 100 MiB stream round-trips (digest compared, nothing buffered whole)', async () => {
    const block = randomBytes(1 << 20);
    const total = 100;
    const source = () => Readable.from((function* () { for (let i = 0; i < total; i++) yield block; })());
    const want = createHash('sha256');
    for (let i = 0; i < total; i++) want.update(block);
    const got = createHash('sha256');
    let size = 0;
    const sealedChunks: Buffer[] = [];
    await pipeline(source(), env.createEncryptStream({ keyId, context: CONTEXT }), new Writable({
      write(c: Buffer, _e, cb) { sealedChunks.push(c); size += c.length; cb(); },
    }));
    expect(size).toBe(parseHeader(sealedChunks[0]!)!.bytes.length + total * (1 << 20) + 16 * ((total << 20) / DEFAULT_SEGMENT_SIZE));
    let plainSize = 0;
    await pipeline(Readable.from(sealedChunks), env.createDecryptStream({ context: CONTEXT }), new Writable({
      write(c: Buffer, _e, cb) { got.update(c); plainSize += c.length; cb(); },
    }));
    expect(plainSize).toBe(total * (1 << 20));
    expect(got.digest('hex')).toBe(want.digest('hex'));
  });

  describe('every tampering of a stream is the one InvalidCiphertextError', () => {
    const plaintext = randomBytes(4 * SEG + 10); // 5 segments: 4 full, 1 short
    let sealed: Buffer;
    let headerLength: number;
    let wrappedStart: number;
    let wrappedLength: number;
    const wire = SEG + 16;
    const seg = (i: number) => headerLength + i * wire;

    beforeAll(async () => {
      sealed = await streamEncrypt(env, plaintext, { keyId, context: CONTEXT, segmentSize: SEG });
      headerLength = parseHeader(sealed)!.bytes.length;
      wrappedStart = 8;
      wrappedLength = sealed.readUInt16BE(6);
    });

    const flip = (buf: Buffer, at: number) => {
      const c = Buffer.from(buf);
      c[at]! ^= 0x01;
      return c;
    };

    async function rejects(bad: Buffer, context: Record<string, string> | undefined = CONTEXT) {
      const viaStream = await failure(streamDecrypt(env, bad, context));
      expect(viaStream).toBeInstanceOf(InvalidCiphertextError);
      const viaBuffer = await failure(env.decrypt(bad, context ? { context } : {}));
      expect(viaBuffer).toBeInstanceOf(InvalidCiphertextError);
      expect((viaBuffer as Error).message).toBe(new InvalidCiphertextError().message);
    }

    it('a bit flipped in each header field', async () => {
      const regions: Record<string, number> = {
        magic: 0, version: 3, algorithm: 4, keySource: 5, wrappedKeyLength: 6,
        wrappedKeyStart: wrappedStart, wrappedKeyMiddle: wrappedStart + (wrappedLength >> 1), wrappedKeyEnd: wrappedStart + wrappedLength - 1,
        segmentSize: wrappedStart + wrappedLength + 3, salt: wrappedStart + wrappedLength + 4 + 5, noncePrefix: headerLength - 1,
      };
      for (const [, at] of Object.entries(regions)) await rejects(flip(sealed, at));
    });

    it('a bit flipped in the body and tag of the first, a middle and the last segment', async () => {
      for (const at of [seg(0), seg(0) + SEG + 3, seg(2) + 5, seg(2) + SEG + 15, seg(4), sealed.length - 1]) await rejects(flip(sealed, at));
    });

    it('the last segment dropped, truncated mid-segment, or a header only', async () => {
      await rejects(sealed.subarray(0, seg(4)));
      await rejects(sealed.subarray(0, seg(3)));
      await rejects(sealed.subarray(0, sealed.length - 1));
      await rejects(sealed.subarray(0, seg(4) + 8));
      await rejects(sealed.subarray(0, headerLength));
      await rejects(sealed.subarray(0, headerLength - 5));
      await rejects(Buffer.alloc(0));
    });

    it('two segments swapped, a segment duplicated, a segment removed from the middle', async () => {
      const s = (i: number) => sealed.subarray(seg(i), seg(i) + wire);
      const head = sealed.subarray(0, headerLength);
      const tail = sealed.subarray(seg(4));
      await rejects(Buffer.concat([head, s(1), s(0), s(2), s(3), tail]));
      await rejects(Buffer.concat([head, s(0), s(1), s(1), s(2), s(3), tail]));
      await rejects(Buffer.concat([head, s(0), s(2), s(3), tail]));
    });

    it('garbage appended (short or a whole fake segment), or a second envelope appended', async () => {
      await rejects(Buffer.concat([sealed, Buffer.from([0])]));
      await rejects(Buffer.concat([sealed, randomBytes(SEG + 16)]));
      await rejects(Buffer.concat([sealed, sealed]));
    });

    it('a segment spliced in from another stream under the same cached data key', async () => {
      const other = await streamEncrypt(env, plaintext, { keyId, context: CONTEXT, segmentSize: SEG });
      expect(other.subarray(8, 8 + wrappedLength).equals(sealed.subarray(8, 8 + wrappedLength))).toBe(true); // same data key (cache)
      await rejects(Buffer.concat([sealed.subarray(0, seg(1)), other.subarray(seg(1), seg(2)), sealed.subarray(seg(2))]));
    });

    it('the wrong, a missing or an extra context entry', async () => {
      await rejects(sealed, { tenant: 'acme', purpose: 'other' });
      await rejects(sealed, {});
      await rejects(sealed, { ...CONTEXT, extra: 'x' });
      await rejects(sealed, { tenant: 'acme' });
      // and the good one still works after all of that (no poisoned cache)
      expect((await streamDecrypt(env, sealed, CONTEXT)).equals(plaintext)).toBe(true);
    });
  });

  it('a one-message envelope rejects a flip of any byte and a wrong context with the one error', async () => {
    const plaintext = randomBytes(40);
    const sealed = await env.encrypt(plaintext, { keyId, context: CONTEXT });
    for (let at = 0; at < sealed.length; at++) {
      const bad = Buffer.from(sealed);
      bad[at]! ^= 0x80;
      expect(await failure(env.decrypt(bad, { context: CONTEXT }))).toBeInstanceOf(InvalidCiphertextError);
    }
    expect(await failure(env.decrypt(sealed, { context: { tenant: 'acme' } }))).toBeInstanceOf(InvalidCiphertextError);
    expect(await failure(env.decrypt(sealed.subarray(0, sealed.length - 1), { context: CONTEXT }))).toBeInstanceOf(InvalidCiphertextError);
    expect((await env.decrypt(sealed, { context: CONTEXT })).equals(plaintext)).toBe(true);
  });

  it('a decrypt stream also opens one-message envelopes, and refuses to buffer one beyond 64 MiB', async () => {
    const plaintext = randomBytes(100_000);
    const sealed = await env.encrypt(plaintext, { keyId, context: CONTEXT });
    expect((await streamDecrypt(env, sealed, CONTEXT)).equals(plaintext)).toBe(true);
    expect(await failure(streamDecrypt(env, sealed.subarray(0, sealed.length - 1), CONTEXT))).toBeInstanceOf(InvalidCiphertextError);
    const huge = Readable.from((function* () {
      yield sealed.subarray(0, parseHeader(sealed)!.bytes.length);
      for (let i = 0; i < 65; i++) yield Buffer.alloc(1 << 20);
    })());
    const err = await failure(pipeline(huge, env.createDecryptStream({ context: CONTEXT }), new Writable({ write(_c, _e, cb) { cb(); } })));
    expect(err).toMatchObject({ code: 'ValidationException', message: expect.stringContaining('Envelope.decrypt()') });
  });

  it('bad input names the problem before anything is sent', async () => {
    await expect(env.encrypt(Buffer.from('x'), {})).rejects.toMatchObject({ code: 'ValidationException', message: expect.stringContaining('keyId') });
    await expect(env.encrypt(Buffer.from('x'), { keyId, context: { n: 1 as unknown as string } })).rejects.toMatchObject({ code: 'ValidationException', message: expect.stringContaining('"n"') });
    expect(() => env.createEncryptStream({ keyId, segmentSize: 3 })).toThrow(/segment size/);
  });

  describe('data-key cache', () => {
    it('1,000 encryptions under one key and context make one KMS call; a new context is a new partition', async () => {
      const provider = new KmsKeyProvider(client);
      const e = new Envelope(provider);
      const sealed: Buffer[] = [];
      for (let i = 0; i < 1000; i++) sealed.push(await e.encrypt(Buffer.from(`message ${i}`), { keyId, context: CONTEXT }));
      expect(provider.stats).toMatchObject({ kmsCalls: 1, encryptMisses: 1, encryptHits: 999 });
      await e.encrypt(Buffer.from('x'), { keyId, context: { tenant: 'other' } });
      expect(provider.stats.kmsCalls).toBe(2);
      // decryption: one KMS Decrypt per wrapped key, then hits
      for (const s of sealed.slice(0, 100)) await e.decrypt(s, { context: CONTEXT });
      expect(provider.stats).toMatchObject({ kmsCalls: 3, decryptMisses: 1, decryptHits: 99 });
      // a warm decryption cache still enforces the context
      expect(await failure(e.decrypt(sealed[0]!, { context: { tenant: 'acme' } }))).toBeInstanceOf(InvalidCiphertextError);
    });

    it('retires a data key after maxMessages, maxBytes and maxAgeMs', async () => {
      const byMessages = new KmsKeyProvider(client, { cache: { maxMessages: 10 } });
      for (let i = 0; i < 35; i++) await new Envelope(byMessages).encrypt(Buffer.from('m'), { keyId });
      expect(byMessages.stats.kmsCalls).toBe(4);

      const byBytes = new KmsKeyProvider(client, { cache: { maxBytes: 1000 } });
      for (let i = 0; i < 10; i++) await new Envelope(byBytes).encrypt(Buffer.alloc(300), { keyId });
      expect(byBytes.stats.kmsCalls).toBe(4); // 3 messages of 300 bytes fit in 1000

      let now = 1_000_000;
      const byAge = new KmsKeyProvider(client, { cache: { maxAgeMs: 60_000 }, now: () => now });
      const e = new Envelope(byAge);
      const a = await e.encrypt(Buffer.from('a'), { keyId });
      now += 59_999;
      await e.encrypt(Buffer.from('b'), { keyId });
      expect(byAge.stats.kmsCalls).toBe(1);
      now += 1;
      await e.encrypt(Buffer.from('c'), { keyId });
      expect(byAge.stats.kmsCalls).toBe(2);
      // an expired decryption entry is fetched again too
      await e.decrypt(a);
      await e.decrypt(a);
      now += 60_000;
      await e.decrypt(a);
      expect(byAge.stats).toMatchObject({ kmsCalls: 4, decryptMisses: 2, decryptHits: 1 });
    });

    it('concurrent misses on a cold partition share one GenerateDataKey; cache: false calls the KMS every time', async () => {
      const provider = new KmsKeyProvider(client);
      const e = new Envelope(provider);
      await Promise.all(Array.from({ length: 50 }, (_, i) => e.encrypt(Buffer.from(String(i)), { keyId, context: CONTEXT })));
      expect(provider.stats.kmsCalls).toBe(1);
      const uncached = new KmsKeyProvider(client, { cache: false });
      const u = new Envelope(uncached);
      const a = await u.encrypt(Buffer.from('a'), { keyId });
      const b = await u.encrypt(Buffer.from('b'), { keyId });
      expect(a.subarray(8, 40).equals(b.subarray(8, 40))).toBe(false);
      expect((await u.decrypt(a)).toString()).toBe('a');
      expect(uncached.stats.kmsCalls).toBe(3);
    });

    it('refuses limits beyond the AES-GCM random-nonce bound', () => {
      expect(() => new KmsKeyProvider(client, { cache: { maxMessages: 2 ** 33 } })).toThrow(/2\^32/);
      expect(() => new KmsKeyProvider(client, { cache: { maxAgeMs: 0 } })).toThrow(/maxAgeMs/);
    });
  });
});
