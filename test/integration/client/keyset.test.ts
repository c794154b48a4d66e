import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Envelope, InvalidCiphertextError, Keyset, KeywardClient } from '../../../src/client/index.js';
import { parseHeader } from '../../../src/format/index.js';
import { startTestServer, tempDir, type TestServer } from '../../helpers/server.js';
import { failure } from '../../helpers/errors.js';

const keysetIdOf = (envelope: Buffer) => {
  const source = parseHeader(envelope)!.source;
  if (source.kind !== 'keyset') throw new Error('not a keyset envelope');
  return source.keyId;
};

describe('local keyset mode, wrapped by a real Keyward key', () => {
  let t: TestServer;
  let client: KeywardClient;
  let keyId: string;
  const dir = tempDir();
  beforeAll(async () => {
    t = await startTestServer();
    client = new KeywardClient({ endpoint: t.url, credentials: t.admin, maxAttempts: 1 });
    keyId = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  });
  afterAll(async () => {
    client?.close();
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('encrypts without the KMS, names its key in every envelope, and survives save/load', async () => {
    const ks = Keyset.generate();
    const env = new Envelope(ks);
    const a = await env.encrypt(Buffer.from('first'), { context: { row: '1' } });
    expect(keysetIdOf(a)).toBe(ks.primaryId);
    const streamed = Buffer.concat(await Readable.from([randomBytes(1000)]).pipe(env.createEncryptStream({ segmentSize: 64 })).toArray() as Buffer[]);
    expect(keysetIdOf(streamed)).toBe(ks.primaryId);

    const path = join(dir, 'app.keyset');
    await ks.save(path, client, keyId, { app: 'test' });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const file = readFileSync(path, 'utf8');
    expect(JSON.parse(file)).toMatchObject({ format: 'keyward-keyset', version: 1, wrappedBy: keyId });
    const loaded = await Keyset.load(path, client, { context: { app: 'test' } });
    expect(loaded.list()).toEqual(ks.list());
    expect((await new Envelope(loaded).decrypt(a, { context: { row: '1' } })).toString()).toBe('first');
    expect(await failure(new Envelope(loaded).decrypt(a, { context: { row: '2' } }))).toBeInstanceOf(InvalidCiphertextError);
  });

  it('rotate adds a new primary; old ciphertexts still decrypt; an unknown key id is the one error', async () => {
    const ks = Keyset.generate();
    const env = new Envelope(ks);
    const before = await env.encrypt(Buffer.from('old'));
    const first = ks.primaryId;
    const second = ks.rotate();
    expect(second).not.toBe(first);
    expect(ks.list().map((k) => [k.id, k.primary])).toEqual([[first, false], [second, true]]);
    const after = await env.encrypt(Buffer.from('new'));
    expect(keysetIdOf(after)).toBe(second);
    expect((await env.decrypt(before)).toString()).toBe('old');
    expect((await env.decrypt(after)).toString()).toBe('new');
    expect(await failure(new Envelope(Keyset.generate()).decrypt(before))).toBeInstanceOf(InvalidCiphertextError);
  });

  it('the usage counter rotates before the limit (and refuses when auto-rotation is off); counters persist', async () => {
    const ks = Keyset.generate({ maxMessagesPerKey: 3 });
    const env = new Envelope(ks);
    const ids: number[] = [];
    for (let i = 0; i < 7; i++) ids.push(keysetIdOf(await env.encrypt(Buffer.from(String(i)))));
    expect(new Set(ids.slice(0, 3)).size).toBe(1);
    expect(new Set(ids.slice(3, 6)).size).toBe(1);
    expect(ids[3]).not.toBe(ids[0]);
    expect(ids[6]).not.toBe(ids[3]);
    expect(ks.list().map((k) => k.messages)).toEqual([3, 3, 1]);
    expect(ks.dirty).toBe(true);

    const strict = Keyset.generate({ maxMessagesPerKey: 2, autoRotate: false });
    const s = new Envelope(strict);
    await s.encrypt(Buffer.from('a'));
    await s.encrypt(Buffer.from('b'));
    await expect(s.encrypt(Buffer.from('c'))).rejects.toMatchObject({ code: 'ValidationException', message: expect.stringContaining('rotate') });
    const path = join(dir, 'strict.keyset');
    await strict.save(path, client, keyId);
    const back = await Keyset.load(path, client, { maxMessagesPerKey: 2, autoRotate: false });
    expect(back.list()[0]!.messages).toBe(2);
    await expect(new Envelope(back).encrypt(Buffer.from('c'))).rejects.toMatchObject({ code: 'ValidationException' });
    expect(() => Keyset.generate({ maxMessagesPerKey: 2 ** 32 + 1 })).toThrow(/2\^32/);
  });

  it('a tampered keyset file, a wrong or missing context, or a non-keyset file is the one error', async () => {
    const ks = Keyset.generate();
    const env = new Envelope(ks);
    const probe = await env.encrypt(Buffer.alloc(0));
    const path = join(dir, 'tamper.keyset');
    await ks.save(path, client, keyId, { app: 'a' });
    const doc = JSON.parse(readFileSync(path, 'utf8')) as { envelope: string };
    const sealed = Buffer.from(doc.envelope, 'base64');
    const loaded = await Keyset.load(path, client, { context: { app: 'a' } });
    expect((await new Envelope(loaded).decrypt(probe)).length).toBe(0);
    expect(await failure(Keyset.load(path, client, { context: { app: 'b' } }))).toBeInstanceOf(InvalidCiphertextError);
    expect(await failure(Keyset.load(path, client))).toBeInstanceOf(InvalidCiphertextError);
    for (const at of [10, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[at]! ^= 1;
      writeFileSync(path, JSON.stringify({ ...doc, envelope: bad.toString('base64') }));
      expect(await failure(Keyset.load(path, client, { context: { app: 'a' } }))).toBeInstanceOf(InvalidCiphertextError);
    }
    writeFileSync(path, 'not json');
    expect(await failure(Keyset.load(path, client, { context: { app: 'a' } }))).toBeInstanceOf(InvalidCiphertextError);
  });
});
