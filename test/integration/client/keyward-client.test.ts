import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFromEnv, KeywardApiError, KeywardClient } from '../../../src/client/index.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

type Step = 'throttle' | 'internal' | 'reset' | 'pass';

/**
 * A front for the real server that misbehaves as scripted (throttles, 5xx, resets the connection)
 * and otherwise forwards the request untouched, signature and all.
 */
async function flakyFront(target: string): Promise<{ url: string; script: Step[]; seen: () => number; close: () => Promise<void> }> {
  const script: Step[] = [];
  let seen = 0;
  const upstream = new URL(target);
  const server: Server = createServer((req, res) => {
    seen++;
    const step = script.shift() ?? 'pass';
    if (step === 'reset') {
      req.socket.destroy();
      return;
    }
    if (step !== 'pass') {
      const [status, type] = step === 'throttle' ? [400, 'ThrottlingException'] : [500, 'KMSInternalException'];
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify({ __type: type, message: 'scripted' }));
      return;
    }
    const fwd = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    req.pipe(fwd);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    script,
    seen: () => seen,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

describe('KeywardClient: retries, every data-plane call, configuration from the environment', () => {
  let t: TestServer;
  let keyId: string;
  let front: Awaited<ReturnType<typeof flakyFront>>;
  beforeAll(async () => {
    t = await startTestServer();
    keyId = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    front = await flakyFront(t.url);
  });
  afterAll(async () => {
    await front?.close();
    await t?.close();
  });

  it('every data-plane operation round-trips', async () => {
    const c = new KeywardClient({ endpoint: t.url, credentials: t.admin });
    try {
      const ctx = { a: 'b' };
      const enc = await c.encrypt({ keyId, plaintext: Buffer.from('hi'), context: ctx });
      expect((await c.decrypt({ ciphertextBlob: enc.ciphertextBlob, context: ctx })).plaintext.toString()).toBe('hi');
      const other = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
      const re = await c.reEncrypt({ ciphertextBlob: enc.ciphertextBlob, destinationKeyId: other, sourceContext: ctx });
      expect(re.keyId).toContain(other);
      expect((await c.decrypt({ ciphertextBlob: re.ciphertextBlob })).plaintext.toString()).toBe('hi');
      const dk = await c.generateDataKey({ keyId, context: ctx });
      expect(dk.plaintext.length).toBe(32);
      expect((await c.decrypt({ ciphertextBlob: dk.ciphertextBlob, context: ctx })).plaintext.equals(dk.plaintext)).toBe(true);
      const wp = await c.generateDataKeyWithoutPlaintext({ keyId, numberOfBytes: 64 });
      expect((await c.decrypt({ ciphertextBlob: wp.ciphertextBlob })).plaintext.length).toBe(64);
      expect((await c.generateRandom(48)).length).toBe(48);
      expect(await c.describeKey(keyId)).toMatchObject({ keyId, enabled: true, keyState: 'Enabled' });
    } finally {
      c.close();
    }
  });

  it('retries throttling, 5xx and a reset connection, then succeeds', async () => {
    const c = new KeywardClient({ endpoint: front.url, credentials: t.admin, maxAttempts: 4 });
    try {
      front.script.push('throttle', 'internal', 'reset');
      const before = front.seen();
      const r = await c.generateRandom(16);
      expect(r.length).toBe(16);
      expect(front.seen() - before).toBe(4);
      expect(c.stats).toEqual({ calls: 1, retries: 3 });
    } finally {
      c.close();
    }
  });

  it('gives up after maxAttempts with the last error, and never retries a client error', async () => {
    const c = new KeywardClient({ endpoint: front.url, credentials: t.admin, maxAttempts: 2 });
    try {
      front.script.push('throttle', 'throttle');
      await expect(c.generateRandom(16)).rejects.toMatchObject({ code: 'ThrottlingException', status: 400 });
      expect(c.stats.retries).toBe(1);
      const before = front.seen();
      const err = await c.encrypt({ keyId: 'alias/does-not-exist', plaintext: Buffer.from('x') }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KeywardApiError);
      expect((err as KeywardApiError).code).toBe('NotFoundException');
      expect((err as KeywardApiError).transient).toBe(false);
      expect(front.seen() - before).toBe(1);
    } finally {
      c.close();
    }
  });

  it('takes the endpoint, credentials and attempts from the environment', async () => {
    expect(credentialsFromEnv({ KEYWARD_TOKEN: 'tok' })).toEqual({ token: 'tok' });
    expect(credentialsFromEnv({ AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK', AWS_SESSION_TOKEN: 'ST' })).toEqual({ accessKeyId: 'AK', secretAccessKey: 'SK', sessionToken: 'ST' });
    expect(credentialsFromEnv({ AWS_ACCESS_KEY_ID: 'AK' })).toBeUndefined();
    const saved = { ...process.env };
    try {
      Object.assign(process.env, { KEYWARD_ENDPOINT: t.url, KEYWARD_TOKEN: t.admin.token, KEYWARD_MAX_ATTEMPTS: '1' });
      const c = new KeywardClient();
      try {
        expect(c.endpoint.href).toBe(`${t.url}/`);
        expect((await c.generateRandom(8)).length).toBe(8);
      } finally {
        c.close();
      }
      process.env.KEYWARD_MAX_ATTEMPTS = 'lots';
      expect(() => new KeywardClient()).toThrow(/KEYWARD_MAX_ATTEMPTS/);
    } finally {
      for (const k of ['KEYWARD_ENDPOINT', 'KEYWARD_TOKEN', 'KEYWARD_MAX_ATTEMPTS']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });
});
