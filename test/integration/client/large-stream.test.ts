import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/server.js';

const CHILD = resolve(import.meta.dirname, '../../fixtures/large-stream-round-trip.mjs');
const GIB = Number(process.env.KEYWARD_LARGE_STREAM_GIB ?? '4');

describe(`a ${GIB} GiB stream (built SDK in a child process)`, () => {
  let t: TestServer;
  beforeAll(async () => { t = await startTestServer(); });
  afterAll(async () => { await t?.close(); });

  it('encrypts and decrypts every byte with peak RSS under 128 MiB', async () => {
    const keyId = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const { stdout } = await promisify(execFile)(process.execPath, [CHILD], {
      env: { PATH: process.env.PATH ?? '', KEYWARD_ENDPOINT: t.url, AWS_ACCESS_KEY_ID: t.admin.accessKeyId, AWS_SECRET_ACCESS_KEY: t.admin.secretAccessKey, KEY_ID: keyId, GIB: String(GIB) },
    });
    const r = JSON.parse(stdout) as { plaintextBytes: number; ciphertextBytes: number; mismatches: number; peakRssBytes: number; ms: number };
    const bytes = GIB * 2 ** 30;
    expect(r.plaintextBytes).toBe(bytes);
    expect(r.mismatches).toBe(0);
    // header + every byte + one 16-byte tag per 256 KiB segment (the last one is full-size here)
    expect(r.ciphertextBytes - bytes - 16 * (bytes / 262144)).toBeGreaterThan(0);
    expect(r.ciphertextBytes - bytes - 16 * (bytes / 262144)).toBeLessThan(512);
    expect(r.peakRssBytes).toBeLessThan(128 * 2 ** 20);
    console.log(`${GIB} GiB round trip in ${r.ms} ms, peak RSS ${(r.peakRssBytes / 2 ** 20).toFixed(1)} MiB (kernel high-water mark)`);
  }, 300_000);
});
