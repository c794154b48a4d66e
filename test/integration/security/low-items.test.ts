import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/index.js';
import { callTarget } from '../../helpers/keyward-api.js';
import { sysCall } from '../../helpers/seal.js';
import { startTestServer, tempDir, TEST_PASSPHRASE, type TestServer } from '../../helpers/server.js';

/** Issue 13, item 6: the low-severity findings, each against a real server on real sockets. */

let t: TestServer | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await t?.close();
  t = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function post(url: string, path: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  return fetch(`${url}${path}`, { method: 'POST', headers, body }).then(async (r) => ({ status: r.status, body: await r.json() as Record<string, unknown> }));
}

describe('Shamir unseal: the ceremony has a nonce, share attempts are limited', () => {
  it('a share or a reset without the nonce the first share answered changes nothing; too many shares from one address are throttled', async () => {
    t = await startTestServer({ init: false, config: { unsealBurst: 5, unsealRatePerMinute: 0.001 } });
    const init = await sysCall(t.url, 'POST', 'init', { seal: 'shamir', shares: 3, threshold: 2 });
    const shares = init.body.shares as string[];
    const token = (init.body.credentials as { token: string }).token;
    expect((await sysCall(t.url, 'POST', 'seal', {}, token)).status).toBe(200);

    const first = await sysCall(t.url, 'POST', 'unseal', { share: shares[0] });
    expect(first.body).toMatchObject({ sealed: true, progress: 1 });
    const nonce = first.body.nonce as string;
    expect(nonce).toMatch(/^[0-9a-f]{32}$/);
    // the nonce is not public
    expect((await sysCall(t.url, 'GET', 'seal-status')).body.nonce).toBeUndefined();
    // someone else cannot poison the ceremony with a share of their own, nor reset it
    const poison = await sysCall(t.url, 'POST', 'unseal', { share: Buffer.alloc(33, 7).toString('base64') });
    expect(poison.body.__type).toBe('ValidationException');
    expect(String(poison.body.message)).toContain('nonce');
    expect((await sysCall(t.url, 'POST', 'unseal', { reset: true })).body.__type).toBe('ValidationException');
    expect((await sysCall(t.url, 'POST', 'unseal', { reset: true, nonce: 'f'.repeat(32) })).body.__type).toBe('ValidationException');
    expect((await sysCall(t.url, 'GET', 'seal-status')).body.progress).toBe(1);
    // the operator with the nonce finishes it
    expect((await sysCall(t.url, 'POST', 'unseal', { share: shares[1], nonce })).body.sealed).toBe(false);
    // share attempts count against the address's unseal budget (5, init included): the 6th is throttled
    expect((await sysCall(t.url, 'POST', 'seal', {}, token)).status).toBe(200);
    const again = await sysCall(t.url, 'POST', 'unseal', { share: shares[2] });
    expect(again.body.progress).toBe(1);
    expect((await sysCall(t.url, 'POST', 'unseal', { share: shares[0], nonce: again.body.nonce })).body.__type).toBe('ThrottlingException');
  }, 60_000);
});

describe('/v1/sys cannot be driven by a web page', () => {
  it('needs application/json, and refuses an Origin other than the listener\'s own unless configured', async () => {
    t = await startTestServer({ config: { sysAllowedOrigins: 'https://console.example.com' } });
    const token = t.admin.token;
    expect((await sysCall(t.url, 'POST', 'seal', {}, token)).status).toBe(200);
    const unseal = JSON.stringify({ passphrase: TEST_PASSPHRASE });
    // what a page can send without a CORS preflight: text/plain, a form, no type
    for (const type of ['text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const r = await post(t.url, '/v1/sys/unseal', unseal, { 'content-type': type });
      expect(r, type).toMatchObject({ status: 400, body: { __type: 'ValidationException' } });
    }
    const evil = await post(t.url, '/v1/sys/unseal', unseal, { 'content-type': 'application/json', origin: 'http://evil.example' });
    expect(evil).toMatchObject({ status: 400, body: { __type: 'AccessDeniedException' } });
    // DNS rebinding: the page's origin names the attacker's host even though it reached this port
    const port = new URL(t.url).port;
    expect((await post(t.url, '/v1/sys/unseal', unseal, { 'content-type': 'application/json', origin: `http://rebound.example:${port}` })).body.__type).toBe('AccessDeniedException');
    expect((await sysCall(t.url, 'GET', 'seal-status')).body.sealed).toBe(true);
    // the listener's own origin and a configured one may
    expect((await post(t.url, '/v1/sys/unseal', unseal, { 'content-type': 'application/json', origin: `http://localhost:${port}` })).body.sealed).toBe(false);
    expect((await sysCall(t.url, 'POST', 'seal', {}, token)).status).toBe(200);
    expect((await post(t.url, '/v1/sys/unseal', unseal, { 'content-type': 'application/json; charset=utf-8', origin: 'https://console.example.com' })).body.sealed).toBe(false);
  }, 60_000);

  it('sysAllowedOrigins takes origins only', () => {
    expect(() => loadConfig({ sysAllowedOrigins: 'console.example.com' }, {})).toThrow(ConfigError);
    expect(loadConfig({ sysAllowedOrigins: 'https://a.example,http://b.example:8080' }, {}).sysAllowedOrigins).toBe('https://a.example,http://b.example:8080');
  });
});

describe('requests and answers', () => {
  it('lone UTF-16 surrogates in an encryption context are a ValidationException (they would collide in UTF-8)', async () => {
    t = await startTestServer();
    const auth = { token: t.admin.token };
    const keyId = ((await callTarget(t.url, 'TrentService.CreateKey', {}, auth)).body.KeyMetadata as { KeyId: string }).KeyId;
    const plaintext = Buffer.from('surrogates').toString('base64');
    for (const context of [{ a: '\ud800' }, { a: 'x\udc00y' }, { '\udbff': 'v' }]) {
      const r = await callTarget(t.url, 'TrentService.Encrypt', { KeyId: keyId, Plaintext: plaintext, EncryptionContext: context }, auth);
      expect(r.body.__type, JSON.stringify(context)).toBe('ValidationException');
      expect(String(r.body.message)).toContain('surrogate');
    }
    // a well-formed pair is fine
    expect((await callTarget(t.url, 'TrentService.Encrypt', { KeyId: keyId, Plaintext: plaintext, EncryptionContext: { a: '\ud83d\ude00' } }, auth)).status).toBe(200);
  }, 60_000);

  it('error messages quote at most 64 characters of the caller\'s text, escaped', async () => {
    t = await startTestServer();
    const auth = { token: t.admin.token };
    const long = `k\u0001${'k'.repeat(70)}`;
    const answers = [
      await callTarget(t.url, 'TrentService.Encrypt', { KeyId: 'q'.repeat(2000), Plaintext: 'AA==' }, auth),
      await callTarget(t.url, 'TrentService.Encrypt', { KeyId: 'alias/x', Plaintext: 'AA==', EncryptionContext: { [long]: 5 } }, auth),
      await callTarget(t.url, 'TrentService.CreateAlias', { AliasName: `alias/aws/${'a'.repeat(200)}`, TargetKeyId: 'alias/x' }, auth),
      await callTarget(t.url, 'TrentService.CreateKey', { Tags: [{ TagKey: `aws:${'t'.repeat(120)}`, TagValue: '' }] }, auth),
      await callTarget(t.url, `TrentService.${'u'.repeat(500)}`, {}, auth),
    ];
    for (const r of answers) {
      const message = String(r.body.message);
      expect(r.status, message).toBe(400);
      expect(message, message).not.toMatch(/([a-z])\1{64}/);
      expect(message.length, message).toBeLessThan(300);
      expect(message).not.toContain('\u0001');
    }
    // control characters come back escaped
    expect(String(answers[1]!.body.message)).toContain('\\u0001');
  }, 60_000);

  it('oversized headers get an AWS-shaped 431', async () => {
    t = await startTestServer();
    const { hostname, port } = new URL(t.url);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => {
        socket.write(`POST / HTTP/1.1\r\nHost: ${hostname}\r\nX-Amz-Target: TrentService.ListKeys\r\nX-Padding: ${'p'.repeat(32 * 1024)}\r\n\r\n`);
      });
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
      socket.on('error', (e) => (chunks.length > 0 ? resolve(Buffer.concat(chunks).toString('utf8')) : reject(e)));
    });
    expect(raw).toMatch(/^HTTP\/1\.1 431 /);
    expect(raw.toLowerCase()).toContain('content-type: application/x-amz-json-1.1');
    const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as { __type: string; message: string };
    expect(body.__type).toBe('RequestHeaderFieldsTooLargeException');
    expect(body.message).toContain('headers');
    // and the server is fine
    expect((await fetch(`${t.url}/v1/sys/health`)).status).toBe(200);
  }, 60_000);

  it('CreateAlias refuses alias//, a trailing slash and alias/aws/; duplicate tag keys are refused', async () => {
    t = await startTestServer();
    const auth = { token: t.admin.token };
    const keyId = ((await callTarget(t.url, 'TrentService.CreateKey', {}, auth)).body.KeyMetadata as { KeyId: string }).KeyId;
    for (const name of ['alias//', 'alias//x', 'alias/a//b', 'alias/a/', 'alias/aws/x']) {
      expect((await callTarget(t.url, 'TrentService.CreateAlias', { AliasName: name, TargetKeyId: keyId }, auth)).body.__type, name).toBe('InvalidAliasNameException');
    }
    expect((await callTarget(t.url, 'TrentService.CreateAlias', { AliasName: 'alias/a/b', TargetKeyId: keyId }, auth)).status).toBe(200);
    const dup = [{ TagKey: 'team', TagValue: 'a' }, { TagKey: 'team', TagValue: 'b' }];
    expect((await callTarget(t.url, 'TrentService.TagResource', { KeyId: keyId, Tags: dup }, auth)).body.__type).toBe('TagException');
    expect((await callTarget(t.url, 'TrentService.CreateKey', { Tags: dup }, auth)).body.__type).toBe('TagException');
    expect((await callTarget(t.url, 'TrentService.ListResourceTags', { KeyId: keyId }, auth)).body.Tags).toEqual([]);
  }, 60_000);
});

describe('seal configuration', () => {
  it('a transit seal over plain http is refused unless the endpoint is loopback', () => {
    const base = { transitKeyId: 'alias/root', dataDir: '/nonexistent' };
    expect(() => loadConfig({ ...base, transitEndpoint: 'http://10.1.2.3:9123' }, {})).toThrow(/plain http to a non-loopback/);
    expect(() => loadConfig({ ...base, transitEndpoint: 'http://kms.example.com' }, {})).toThrow(ConfigError);
    expect(loadConfig({ ...base, transitEndpoint: 'https://kms.example.com' }, {}).transitEndpoint).toBe('https://kms.example.com');
    expect(loadConfig({ ...base, transitEndpoint: 'http://127.0.0.1:9123' }, {}).transitEndpoint).toBe('http://127.0.0.1:9123');
    expect(loadConfig({ ...base, transitEndpoint: 'http://[::1]:9123' }, {}).transitEndpoint).toBe('http://[::1]:9123');
  });

  it('Argon2 parameters read from a tampered core/seal are bounded: unseal answers at once, nothing derived', async () => {
    const dataDir = tempDir('keyward-argon-');
    dirs.push(dataDir);
    t = await startTestServer({ dataDir });
    const admin = t.admin;
    await t.close();
    t = undefined;
    for (const kdf of [{ iterations: 1_000_000 }, { memoryKiB: 2 ** 31 }, { parallelism: 4096 }, { salt: '' }]) {
      const db = new Database(join(dataDir, 'keyward.db'));
      const row = db.prepare("SELECT value FROM kv WHERE key = 'core/seal'").get() as { value: Buffer };
      const original = row.value;
      const record = JSON.parse(original.toString('utf8')) as { seal: { kdf: Record<string, unknown> } };
      record.seal.kdf = { ...record.seal.kdf, ...kdf };
      db.prepare("UPDATE kv SET value = ? WHERE key = 'core/seal'").run(Buffer.from(JSON.stringify(record)));
      db.close();
      t = await startTestServer({ dataDir, admin });
      try {
        const r = await fetch(`${t.url}/v1/sys/unseal`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: TEST_PASSPHRASE }), signal: AbortSignal.timeout(60_000),
        });
        const body = await r.json() as { __type: string; message: string };
        expect(body.__type, JSON.stringify(kdf)).toBe('IntegrityException');
        expect(body.message).toContain('Argon2 parameters are out of bounds');
        expect((await sysCall(t.url, 'GET', 'health')).status).toBe(503);
      } finally {
        await t.close();
        t = undefined;
        const restore = new Database(join(dataDir, 'keyward.db'));
        restore.prepare("UPDATE kv SET value = ? WHERE key = 'core/seal'").run(original);
        restore.close();
      }
    }
  }, 180_000);
});
