import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DecryptCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTarget } from '../../helpers/keyward-api.js';
import { NdjsonClient } from '../../helpers/ndjson.js';
import { kmsClient, startTestServer, tempDir, type TestServer } from '../../helpers/server.js';
import { eventually } from '../../helpers/wait.js';

const execFileP = promisify(execFile);

/**
 * mini-kms's NDJSON protocol against a real server, over loopback TCP and a Unix socket, driven
 * by a plain socket client (test/helpers/ndjson.ts): field names, types and error codes as
 * mini-kms's documentation gives them.
 */
interface Principal { token: string; accessKeyId: string; secretAccessKey: string }

async function createPrincipal(url: string, adminToken: string, name: string, role: 'user' | 'admin', tenant?: string): Promise<Principal> {
  const r = await callTarget(url, 'Keyward.CreatePrincipal', { Name: name, Role: role, ...(tenant ? { Tenant: tenant } : {}) }, { token: adminToken });
  if (r.status !== 200) throw new Error(`CreatePrincipal: ${JSON.stringify(r.body)}`);
  const c = r.body.Credentials as { Token: string; AccessKeyId: string; SecretAccessKey: string };
  return { token: c.Token, accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (v: unknown) => Buffer.from(String(v), 'base64');

describe('mini-kms NDJSON protocol', () => {
  let t: TestServer;
  let dir: string;
  let socketPath: string;
  let tcp: { host: string; port: number };
  let api: Principal;
  let admin: Principal;
  const clients: NdjsonClient[] = [];
  const open = async (where: 'tcp' | 'unix') => {
    const c = await NdjsonClient.open(where === 'tcp' ? tcp : { path: socketPath });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    dir = tempDir('keyward-minikms-');
    mkdirSync(join(dir, 'run'), { mode: 0o700 });
    socketPath = join(dir, 'run', 'mini-kms.sock');
    t = await startTestServer({
      config: { minikmsListen: '127.0.0.1:0', minikmsSocket: socketPath, minikmsMaxFrameBytes: 12000, requestTimeoutMs: 1500, minikmsMaxConnections: 64 },
    });
    const [host, port] = t.server.minikmsAddress!.split(':');
    tcp = { host: host!, port: Number(port) };
    api = await createPrincipal(t.url, t.admin.token, 'app', 'user');
    admin = await createPrincipal(t.url, t.admin.token, 'ops', 'admin');
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('binds the Unix socket 0600 in its 0700 directory', () => {
    expect(statSync(socketPath).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'run')).mode & 0o777).toBe(0o700);
  });

  for (const where of ['tcp', 'unix'] as const) {
    it(`serves every request type over ${where}`, async () => {
      const c = await open(where);
      const group = `billing-${where}`;
      expect(await c.call({ type: 'Health', token: api.token })).toEqual({ status: 'ok', detail: 'ok' });
      expect(await c.call({ type: 'Ping', token: api.token })).toEqual({ status: 'ok', detail: 'ok' });

      const created = await c.call({ type: 'CreateKeyGroup', token: admin.token, keyId: group });
      expect(created.status).toBe('ok');
      const kg = created.keyGroup as { keyId: string; activeVersion: number; versions: Array<Record<string, unknown>> };
      expect(kg.keyId).toBe(group);
      expect(kg.activeVersion).toBe(1);
      expect(kg.versions).toEqual([{ version: 1, status: 'ACTIVE', createdAtEpochSec: expect.any(Number) }]);
      expect(await c.call({ type: 'CreateKeyGroup', token: admin.token, keyId: group })).toMatchObject({ status: 'error', errorCode: 'InvalidRequest' });

      // data operations without keyId use the default group (created on first use)
      const enc = await c.call({ type: 'Encrypt', token: api.token, plaintext: b64('hunter2') });
      expect(Object.keys(enc)).toEqual(['status', 'ciphertext']);
      const dec = await c.call({ type: 'Decrypt', token: api.token, ciphertext: enc.ciphertext });
      expect(Object.keys(dec)).toEqual(['status', 'plaintext']);
      expect(unb64(dec.plaintext).toString()).toBe('hunter2');

      const dk = await c.call({ type: 'GenerateDataKey', token: api.token, keyId: group, aad: b64('report.pdf') });
      expect(Object.keys(dk)).toEqual(['status', 'plaintextDataKey', 'wrappedDataKey']);
      expect(unb64(dk.plaintextDataKey)).toHaveLength(32);
      const unwrapped = await c.call({ type: 'Decrypt', token: api.token, ciphertext: dk.wrappedDataKey, aad: b64('report.pdf') });
      expect(unwrapped.plaintext).toBe(dk.plaintextDataKey);

      // ReEncrypt moves a default-group blob onto the group's active version
      const moved = await c.call({ type: 'ReEncrypt', token: api.token, keyId: group, ciphertext: enc.ciphertext });
      expect(Object.keys(moved)).toEqual(['status', 'ciphertext']);
      expect(unb64((await c.call({ type: 'Decrypt', token: api.token, keyId: group, ciphertext: moved.ciphertext })).plaintext).toString()).toBe('hunter2');
      expect(await c.call({ type: 'Decrypt', token: api.token, keyId: 'default', ciphertext: moved.ciphertext })).toMatchObject({ status: 'error', errorCode: 'DecryptionFailed' });

      const rotated = await c.call({ type: 'RotateKeyGroup', token: admin.token, keyId: group });
      const rg = rotated.keyGroup as typeof kg;
      expect(rg.activeVersion).toBe(2);
      expect(rg.versions.map((v) => [v.version, v.status])).toEqual([[1, 'ENABLED'], [2, 'ACTIVE']]);
      // the old version still decrypts
      expect(unb64((await c.call({ type: 'Decrypt', token: api.token, ciphertext: moved.ciphertext })).plaintext).toString()).toBe('hunter2');

      const listed = await c.call({ type: 'ListKeyGroups', token: admin.token });
      const groups = listed.keyGroups as Array<typeof kg>;
      expect(groups.find((g) => g.keyId === group)?.activeVersion).toBe(2);
      expect(groups.some((g) => g.keyId === 'default')).toBe(true);

      const disabled = await c.call({ type: 'DisableVersion', token: admin.token, keyId: group, version: 1 });
      expect(disabled).toEqual({ status: 'ok', detail: expect.stringContaining('DISABLED') });
      expect(await c.call({ type: 'Decrypt', token: api.token, ciphertext: moved.ciphertext })).toMatchObject({ status: 'error', errorCode: 'DecryptionFailed' });
      expect(await c.call({ type: 'EnableVersion', token: admin.token, keyId: group, version: 1 })).toEqual({ status: 'ok', detail: expect.stringContaining('ENABLED') });
      expect(unb64((await c.call({ type: 'Decrypt', token: api.token, ciphertext: moved.ciphertext })).plaintext).toString()).toBe('hunter2');
      expect(await c.call({ type: 'DestroyVersion', token: admin.token, keyId: group, version: 1 })).toEqual({ status: 'ok', detail: expect.stringContaining('DESTROYED') });
      expect(await c.call({ type: 'Decrypt', token: api.token, ciphertext: moved.ciphertext })).toMatchObject({ status: 'error', errorCode: 'DecryptionFailed', message: 'decryption failed' });
      const after = (await c.call({ type: 'ListKeyGroups', token: admin.token })).keyGroups as Array<typeof kg>;
      expect(after.find((g) => g.keyId === group)?.versions.map((v) => v.status)).toEqual(['DESTROYED', 'ACTIVE']);
    });
  }

  it('reproduces the wire examples of the mini-kms documentation literally', async () => {
    // a tenant of its own, so its default group starts at version 1
    expect((await callTarget(t.url, 'Keyward.CreateTenant', { TenantId: 'wire' }, { token: t.admin.token })).status).toBe(200);
    const wireApi = await createPrincipal(t.url, t.admin.token, 'api', 'user', 'wire');
    const wireAdmin = await createPrincipal(t.url, t.admin.token, 'admin', 'admin', 'wire');
    const c = await open('unix');
    expect((await c.call({ type: 'CreateKeyGroup', token: wireAdmin.token, keyId: 'billing' })).status).toBe('ok');

    c.write(`{"type":"GenerateDataKey","token":"${wireApi.token}","keyId":"billing","aad":"ZmlsZQ=="}\n`);
    const gdk = await c.next();
    expect(Object.keys(gdk!)).toEqual(['status', 'plaintextDataKey', 'wrappedDataKey']);
    expect(gdk!.status).toBe('ok');

    // the default group exists from first use (a data request), as after mini-kms's first run
    expect((await c.call({ type: 'Health', token: wireApi.token })).status).toBe('ok');
    expect((await c.call({ type: 'Encrypt', token: wireApi.token, plaintext: b64('x') })).status).toBe('ok');
    c.write(`{"type":"RotateKeyGroup","token":"${wireAdmin.token}","keyId":"default"}\n`);
    const rotated = await c.next();
    expect(rotated).toEqual({
      status: 'ok',
      keyGroup: {
        keyId: 'default', activeVersion: 2,
        versions: [{ version: 1, status: 'ENABLED', createdAtEpochSec: expect.any(Number) }, { version: 2, status: 'ACTIVE', createdAtEpochSec: expect.any(Number) }],
      },
    });
    const versions = (rotated!.keyGroup as { versions: Array<{ createdAtEpochSec: number }> }).versions;
    for (const v of versions) expect(Number.isInteger(v.createdAtEpochSec) && Math.abs(v.createdAtEpochSec - Date.now() / 1000) < 3600).toBe(true);

    c.write(`{"type":"ListKeyGroups","token":"${wireApi.token}"}\n`);
    expect(await c.nextRaw()).toBe('{"status":"error","errorCode":"AuthFailed","message":"invalid admin token"}');
  });

  it('separates the planes by token: a data token on every control type answers AuthFailed', async () => {
    const c = await open('tcp');
    const before = await c.call({ type: 'ListKeyGroups', token: admin.token });
    for (const type of ['CreateKeyGroup', 'RotateKeyGroup', 'ListKeyGroups', 'DisableVersion', 'EnableVersion', 'DestroyVersion']) {
      expect(await c.call({ type, token: api.token, keyId: 'default', version: 1 })).toEqual({ status: 'error', errorCode: 'AuthFailed', message: 'invalid admin token' });
    }
    for (const token of [undefined, '', 'not-a-token']) {
      expect(await c.call({ type: 'Encrypt', ...(token !== undefined ? { token } : {}), plaintext: b64('x') })).toEqual({ status: 'error', errorCode: 'AuthFailed', message: 'invalid API token' });
      expect(await c.call({ type: 'RotateKeyGroup', ...(token !== undefined ? { token } : {}), keyId: 'default' })).toEqual({ status: 'error', errorCode: 'AuthFailed', message: 'invalid admin token' });
    }
    // nothing changed
    expect(await c.call({ type: 'ListKeyGroups', token: admin.token })).toEqual(before);
  });

  it('answers bad input with the protocol\'s own codes and keeps the connection and the server up', async () => {
    const c = await open('unix');
    const before = await c.call({ type: 'ListKeyGroups', token: admin.token });
    const bad = [
      'not json', '[1,2]', '42', '"Encrypt"', 'null', '{}', '{"type":"Explode","token":"x"}', '{"type":7}',
      `{"type":"Encrypt","token":"${api.token}","plaintext":42}`,
      `{"type":"Encrypt","token":"${api.token}","plaintext":"***not base64***"}`,
      `{"type":"Encrypt","token":"${api.token}","plaintext":"${b64('x')}","aad":"%%%"}`,
      `{"type":"Encrypt","token":"${api.token}","plaintext":"${b64('x')}","keyId":["default"]}`,
      `{"type":"Encrypt","token":"${api.token}"}`,
      `{"type":"DisableVersion","token":"${admin.token}","keyId":"default","version":"1"}`,
      `{"type":"DisableVersion","token":"${admin.token}","keyId":"default","version":1.5}`,
      `{"type":"DisableVersion","token":"${admin.token}","keyId":"default"}`,
      `{"type":"CreateKeyGroup","token":"${admin.token}","keyId":"../etc"}`,
      `{"type":"Encrypt","token":123,"plaintext":"${b64('x')}"}`,
    ];
    for (const line of bad) {
      c.write(`${line}\n`);
      const answer = await c.next();
      expect(answer, line).toMatchObject({ status: 'error', errorCode: 'InvalidRequest', message: expect.any(String) });
    }
    expect(c.closed).toBe(false);
    expect((await c.call({ type: 'Health', token: api.token })).status).toBe('ok');
    expect(await c.call({ type: 'ListKeyGroups', token: admin.token })).toEqual(before);
  });

  it('answers DecryptionFailed, with one message, for every tamper case', async () => {
    const c = await open('tcp');
    const other = await c.call({ type: 'CreateKeyGroup', token: admin.token, keyId: 'tamper-other' });
    expect(other.status).toBe('ok');
    const aad = b64('ctx');
    const enc = await c.call({ type: 'Encrypt', token: api.token, plaintext: b64('the secret'), aad });
    const blob = unb64(enc.ciphertext);
    const flipped = (i: number) => {
      const b = Buffer.from(blob);
      b[i] = b[i]! ^ 0x01;
      return b.toString('base64');
    };
    const foreignTenant = await createPrincipal(t.url, t.admin.token, 'tamper-api', 'user', 'wire').catch(() => undefined);
    const cases: Array<[string, Record<string, unknown>]> = [
      ['first byte (format)', { ciphertext: flipped(0) }],
      ['a header byte', { ciphertext: flipped(5) }],
      ['a middle byte', { ciphertext: flipped(Math.floor(blob.length / 2)) }],
      ['the last byte (tag)', { ciphertext: flipped(blob.length - 1) }],
      ['truncated', { ciphertext: blob.subarray(0, blob.length - 5).toString('base64') }],
      ['only a header', { ciphertext: blob.subarray(0, 8).toString('base64') }],
      ['extended', { ciphertext: Buffer.concat([blob, Buffer.from([0])]).toString('base64') }],
      ['random bytes', { ciphertext: Buffer.alloc(blob.length, 7).toString('base64') }],
      ['empty', { ciphertext: '' }],
      ['over the blob limit', { ciphertext: Buffer.alloc(6200, 1).toString('base64') }],
    ];
    for (const [name, fields] of cases) {
      expect(await c.call({ type: 'Decrypt', token: api.token, aad, ...fields }), name).toEqual({ status: 'error', errorCode: 'DecryptionFailed', message: 'decryption failed' });
    }
    const contexts: Array<[string, Record<string, unknown>]> = [
      ['no aad', {}], ['another aad', { aad: b64('ctx2') }], ['another group named', { aad, keyId: 'tamper-other' }], ['an unknown group named', { aad, keyId: 'nope' }],
    ];
    for (const [name, fields] of contexts) {
      expect(await c.call({ type: 'Decrypt', token: api.token, ciphertext: enc.ciphertext, ...fields }), name).toEqual({ status: 'error', errorCode: 'DecryptionFailed', message: 'decryption failed' });
      // ReEncrypt's keyId is the destination group: only the aad cases apply to it
      if (fields.keyId === undefined) {
        expect(await c.call({ type: 'ReEncrypt', token: api.token, ciphertext: enc.ciphertext, ...fields }), name).toEqual({ status: 'error', errorCode: 'DecryptionFailed', message: 'decryption failed' });
      }
    }
    if (foreignTenant !== undefined) {
      expect(await c.call({ type: 'Decrypt', token: foreignTenant.token, ciphertext: enc.ciphertext, aad })).toEqual({ status: 'error', errorCode: 'DecryptionFailed', message: 'decryption failed' });
    }
    // and the genuine one still decrypts
    expect(unb64((await c.call({ type: 'Decrypt', token: api.token, ciphertext: enc.ciphertext, aad })).plaintext).toString()).toBe('the secret');
  });

  it('interoperates with the AWS protocol: aad is the encryption context {"aad": <base64>}', async () => {
    const c = await open('unix');
    const aad = b64('invoice-42');
    const enc = await c.call({ type: 'Encrypt', token: api.token, plaintext: b64('over the socket'), aad });
    const aws: KMSClient = kmsClient(t.url, api);
    try {
      const dec = await aws.send(new DecryptCommand({ CiphertextBlob: unb64(enc.ciphertext), EncryptionContext: { aad } }));
      expect(Buffer.from(dec.Plaintext!).toString()).toBe('over the socket');
      const back = await aws.send(new EncryptCommand({ KeyId: 'alias/default', Plaintext: Buffer.from('over HTTP'), EncryptionContext: { aad } }));
      const opened = await c.call({ type: 'Decrypt', token: api.token, ciphertext: Buffer.from(back.CiphertextBlob!).toString('base64'), aad });
      expect(unb64(opened.plaintext).toString()).toBe('over HTTP');
    } finally {
      aws.destroy();
    }
  });

  it('audits every request with transport minikms, never the token or the plaintext', async () => {
    const c = await open('unix');
    expect((await c.call({ type: 'Encrypt', token: api.token, plaintext: b64('audited plaintext') })).status).toBe('ok');
    expect((await c.call({ type: 'Encrypt', token: 'wrong-token', plaintext: b64('x') })).errorCode).toBe('AuthFailed');
    c.write('not json\n');
    expect((await c.next())?.errorCode).toBe('InvalidRequest');
    const r = await callTarget(t.url, 'Keyward.ListAuditRecords', { Limit: 1000 }, { token: t.admin.token });
    const records = r.body.Records as Array<Record<string, unknown>>;
    const ours = records.filter((x) => x.transport === 'minikms');
    expect(ours.some((x) => x.op === 'Encrypt' && x.principal === 'app' && x.result === 'OK')).toBe(true);
    expect(ours.some((x) => x.op === 'Encrypt' && x.result === 'UnrecognizedClientException')).toBe(true);
    expect(ours.some((x) => x.op === 'MiniKms' && x.result === 'ValidationException')).toBe(true);
    const text = JSON.stringify(records);
    expect(text.includes(api.token)).toBe(false);
    expect(text.includes(admin.token)).toBe(false);
    expect(text.includes(b64('audited plaintext'))).toBe(false);
  });

  it('answers pipelined requests in order on one connection', async () => {
    const c = await open('tcp');
    const lines = Array.from({ length: 40 }, (_, i) => JSON.stringify({ type: 'Encrypt', token: api.token, plaintext: b64(`n${i}`) })).join('\n');
    c.write(`${lines}\n`);
    const blobs: string[] = [];
    for (let i = 0; i < 40; i++) blobs.push(String((await c.next())!.ciphertext));
    c.write(`${blobs.map((ciphertext) => JSON.stringify({ type: 'Decrypt', token: api.token, ciphertext })).join('\n')}\n`);
    for (let i = 0; i < 40; i++) expect(unb64((await c.next())!.plaintext).toString()).toBe(`n${i}`);
  });

  it('answers a frame over the limit with FrameTooLarge and closes the connection', async () => {
    for (const where of ['tcp', 'unix'] as const) {
      const c = await open(where);
      expect((await c.call({ type: 'Health', token: api.token })).status).toBe('ok');
      // no newline yet: the partial line alone is over the limit (12000 bytes here)
      c.write(`{"type":"Encrypt","token":"${api.token}","plaintext":"${'A'.repeat(13000)}`);
      expect(await c.next()).toEqual({ status: 'error', errorCode: 'FrameTooLarge', message: expect.stringContaining('12000') });
      expect(await c.waitClosed(10_000)).toBe(true);
    }
    // a complete line over the limit, sent with its newline
    const c = await open('unix');
    c.write(`${JSON.stringify({ type: 'Encrypt', token: api.token, plaintext: 'A'.repeat(13000) })}\n`);
    expect((await c.next())?.errorCode).toBe('FrameTooLarge');
    expect(await c.waitClosed(10_000)).toBe(true);
    const d = await open('unix');
    expect((await d.call({ type: 'Health', token: api.token })).status).toBe('ok');
  });

  it('cuts off a client that sends half a line and stalls', async () => {
    const c = await open('unix');
    c.write('{"type":"Health","tok');
    // requestTimeoutMs is 1.5 s here; the deadline is generous for a loaded machine
    expect(await c.waitClosed(30_000)).toBe(true);
    const d = await open('tcp');
    expect((await d.call({ type: 'Health', token: api.token })).status).toBe('ok');
  });

  it('bounds idle connections: past the limit new ones are closed, and the server stays up', async () => {
    const idle: NdjsonClient[] = [];
    for (let i = 0; i < 150; i++) {
      try {
        idle.push(await NdjsonClient.open(tcp));
      } catch {
        // refused outright is as good as closed
      }
    }
    try {
      expect(await eventually(() => idle.filter((c) => c.closed).length >= 150 - 64, 30_000)).toBe(true);
      const open = idle.filter((c) => !c.closed).length;
      expect(open).toBeLessThanOrEqual(64);
    } finally {
      for (const c of idle) c.close();
    }
    // once they are gone, new clients are served
    expect(await eventually(async () => {
      const c = await NdjsonClient.open({ path: socketPath });
      try {
        return (await c.call({ type: 'Health', token: api.token }).catch(() => ({ status: 'closed' }))).status === 'ok';
      } finally {
        c.close();
      }
    }, 30_000, 200)).toBe(true);
  });

  it('runs the README socat example against the Unix socket', async () => {
    const request = JSON.stringify({ type: 'Encrypt', token: api.token, plaintext: b64('hunter2') });
    const { stdout } = await execFileP('sh', ['-c', `printf '%s\\n' "$REQ" | socat -t 10 - UNIX-CONNECT:"$SOCK"`], { env: { ...process.env, REQ: request, SOCK: socketPath }, timeout: 30_000 });
    const answer = JSON.parse(stdout.trim()) as Record<string, unknown>;
    expect(answer.status).toBe('ok');
    const dec = JSON.stringify({ type: 'Decrypt', token: api.token, ciphertext: answer.ciphertext });
    const out = await execFileP('sh', ['-c', `printf '%s\\n' "$REQ" | socat -t 10 - UNIX-CONNECT:"$SOCK"`], { env: { ...process.env, REQ: dec, SOCK: socketPath }, timeout: 30_000 });
    expect(unb64((JSON.parse(out.stdout.trim()) as { plaintext: string }).plaintext).toString()).toBe('hunter2');
  });
});
