import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { startServer } from '../../../src/server.js';
import { callTarget } from '../../helpers/keyward-api.js';
import { grpc, grpcClient, grpcFailure, loadProto, type GrpcClient } from '../../helpers/grpc.js';
import { FAST_ARGON2, TEST_PASSPHRASE, startTestServer, tempDir, type TestServer } from '../../helpers/server.js';
import { eventually } from '../../helpers/wait.js';
import { spawnKeyward } from '../../helpers/process.js';

const pkg = loadProto(['keyward/v1/kms.proto']);
const healthPkg = loadProto(['health/v1/health.proto'], [join(import.meta.dirname, '../../../node_modules/grpc-health-check/proto')]);
const reflectionPkg = loadProto(['grpc/reflection/v1/reflection.proto'], [join(import.meta.dirname, '../../../node_modules/@grpc/reflection/build/proto')]);

/** Sends raw bytes to any method path (malformed messages, unknown methods). */
function rawCall(client: grpc.Client, path: string, bytes: Buffer, token?: string): Promise<Buffer> {
  const md = new grpc.Metadata();
  if (token !== undefined) md.set('authorization', `Bearer ${token}`);
  return new Promise((res, rej) => {
    client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, bytes, md, { deadline: Date.now() + 20_000 }, (e, v) => (e ? rej(e) : res(v!)));
  });
}

async function auditRecords(t: TestServer, op: string): Promise<Array<Record<string, unknown>>> {
  const r = await callTarget(t.url, 'Keyward.ListAuditRecords', { Op: op, Limit: 1000 }, { token: t.admin.token });
  expect(r.status).toBe(200);
  return r.body.Records as Array<Record<string, unknown>>;
}

describe('gRPC transport on loopback TCP', () => {
  let t: TestServer;
  let kms: GrpcClient;
  let keyId: string;

  beforeAll(async () => {
    t = await startTestServer({ config: { grpcListen: '127.0.0.1:0', grpcMaxMessageBytes: 64 * 1024 } });
    kms = grpcClient(pkg, 'keyward.v1.Kms', t.server.grpcAddress!, { token: t.admin.token });
    const created = await callTarget(t.url, 'TrentService.CreateKey', { Description: 'grpc' }, { token: t.admin.token });
    keyId = String((created.body.KeyMetadata as Record<string, unknown>).KeyId);
  });
  afterAll(async () => {
    kms?.close();
    await t?.close();
  });

  it('serves every Kms RPC', async () => {
    const enc = await kms.Encrypt!({ key_id: keyId, plaintext: Buffer.from('hello'), encryption_context: { app: 'a' } });
    const re = await kms.ReEncrypt!({ ciphertext_blob: enc.ciphertext_blob, source_encryption_context: { app: 'a' }, destination_key_id: keyId, destination_encryption_context: { app: 'b' } });
    expect(re.source_key_id).toBe(enc.key_id);
    expect(re.destination_encryption_algorithm).toBe('SYMMETRIC_DEFAULT');
    const dec = await kms.Decrypt!({ ciphertext_blob: re.ciphertext_blob, encryption_context: { app: 'b' }, key_id: keyId });
    expect(Buffer.from(dec.plaintext as Buffer).toString()).toBe('hello');
    const gdk = await kms.GenerateDataKey!({ key_id: keyId, key_spec: 'AES_256' });
    expect((gdk.plaintext as Buffer).length).toBe(32);
    const back = await kms.Decrypt!({ ciphertext_blob: gdk.ciphertext_blob });
    expect(Buffer.compare(back.plaintext as Buffer, gdk.plaintext as Buffer)).toBe(0);
    const wp = await kms.GenerateDataKeyWithoutPlaintext!({ key_id: keyId, number_of_bytes: 16 });
    expect((wp.plaintext as Buffer | undefined)?.length ?? 0).toBe(0);
    expect(((await kms.Decrypt!({ ciphertext_blob: wp.ciphertext_blob })).plaintext as Buffer).length).toBe(16);
    const rnd = await kms.GenerateRandom!({ number_of_bytes: 48 });
    expect((rnd.plaintext as Buffer).length).toBe(48);
  });

  it('a ciphertext made over gRPC decrypts over HTTP, and back', async () => {
    const enc = await kms.Encrypt!({ key_id: keyId, plaintext: Buffer.from('both ways'), encryption_context: { k: 'v' } });
    const viaHttp = await t.kms.send(new (await import('@aws-sdk/client-kms')).DecryptCommand({ CiphertextBlob: enc.ciphertext_blob as Buffer, EncryptionContext: { k: 'v' } }));
    expect(Buffer.from(viaHttp.Plaintext!).toString()).toBe('both ways');
    const httpBlob = (await t.kms.send(new (await import('@aws-sdk/client-kms')).EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('and back') }))).CiphertextBlob!;
    const dec = await kms.Decrypt!({ ciphertext_blob: Buffer.from(httpBlob) });
    expect(Buffer.from(dec.plaintext as Buffer).toString()).toBe('and back');
  });

  it('batches over gRPC and over HTTP (Keyward.BatchEncrypt), one audit record per item', async () => {
    const before = (await auditRecords(t, 'Encrypt')).length;
    const items = Array.from({ length: 100 }, (_, i) => ({ plaintext: Buffer.alloc(32, i), encryption_context: { n: String(i) } }));
    items.push({ plaintext: Buffer.alloc(0), encryption_context: { n: 'empty' } });
    const enc = await kms.BatchEncrypt!({ key_id: keyId, items });
    const results = enc.results as Array<Record<string, unknown>>;
    expect(results).toHaveLength(101);
    expect(results[100]!.error).toMatchObject({ code: 'ValidationException' });
    expect(String((results[100]!.error as Record<string, unknown>).message)).toMatch(/'plaintext'/);
    expect(await eventually(async () => (await auditRecords(t, 'Encrypt')).length >= before + 101, 10_000)).toBe(true);
    const records = (await auditRecords(t, 'Encrypt')).slice(before);
    expect(records).toHaveLength(101);
    expect(new Set(records.map((r) => r.requestId)).size).toBe(101);
    expect(records.every((r) => r.transport === 'grpc' && /#\d+$/.test(String(r.requestId)))).toBe(true);
    const http = await callTarget(t.url, 'Keyward.BatchDecrypt', {
      Items: results.slice(0, 100).map((r, i) => ({ CiphertextBlob: (r.ciphertext_blob as Buffer).toString('base64'), EncryptionContext: { n: String(i) } })),
    }, { token: t.admin.token });
    expect(http.status).toBe(200);
    const plain = (http.body.Results as Array<{ Plaintext: string }>).map((r) => Buffer.from(r.Plaintext, 'base64'));
    expect(plain.every((p, i) => p.equals(Buffer.alloc(32, i)))).toBe(true);
  });

  it('refuses a batch over 1,000 items, or with no items, as a whole', async () => {
    const e = await grpcFailure(kms.BatchEncrypt!({ key_id: keyId, items: Array.from({ length: 1001 }, () => ({ plaintext: Buffer.from('x') })) }));
    expect(e.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(e.details).toMatch(/^ValidationException: .*'items'.*1000/);
    expect((await grpcFailure(kms.BatchDecrypt!({ items: [] }))).details).toMatch(/^ValidationException: .*'items'/);
  });

  it('every decrypt failure is one error, per batch item too (no oracle)', async () => {
    const enc = await kms.Encrypt!({ key_id: keyId, plaintext: Buffer.from('x'), encryption_context: { a: '1' } });
    const blob = enc.ciphertext_blob as Buffer;
    const tampered = Buffer.from(blob);
    tampered.writeUInt8(tampered.readUInt8(tampered.length - 1) ^ 1, tampered.length - 1);
    const cases = [
      { ciphertext_blob: blob, encryption_context: { a: '2' } },
      { ciphertext_blob: tampered, encryption_context: { a: '1' } },
      { ciphertext_blob: Buffer.from('not a blob at all'), encryption_context: { a: '1' } },
    ];
    const messages = new Set<string>();
    for (const c of cases) {
      const e = await grpcFailure(kms.Decrypt!(c));
      expect(e.code).toBe(grpc.status.INVALID_ARGUMENT);
      messages.add(e.details);
    }
    const batch = await kms.BatchDecrypt!({ items: cases });
    for (const r of batch.results as Array<{ error: { code: string; message: string } }>) messages.add(`${r.error.code}: ${r.error.message}`);
    expect([...messages]).toHaveLength(1);
    expect([...messages][0]).toMatch(/^InvalidCiphertextException: /);
  });

  it('names the field of bad input', async () => {
    const e = await grpcFailure(kms.Encrypt!({ key_id: keyId, plaintext: Buffer.alloc(5000) }));
    expect(e.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(e.details).toMatch(/^ValidationException: .*'plaintext'.*4096/);
    const missing = await grpcFailure(kms.Encrypt!({ plaintext: Buffer.from('x') }));
    expect(missing.details).toMatch(/^ValidationException: .*'keyId'/);
    const notFound = await grpcFailure(kms.Encrypt!({ key_id: 'alias/none', plaintext: Buffer.from('x') }));
    expect(notFound.code).toBe(grpc.status.NOT_FOUND);
    expect(notFound.details).toMatch(/^NotFoundException: /);
  });

  it('answers authentication failures with UNAUTHENTICATED and the code', async () => {
    const anonymous = grpcClient(pkg, 'keyward.v1.Kms', t.server.grpcAddress!);
    const wrong = grpcClient(pkg, 'keyward.v1.Kms', t.server.grpcAddress!, { token: 'kw.0123456789abcdef.nope' });
    try {
      const none = await grpcFailure(anonymous.Encrypt!({ key_id: keyId, plaintext: Buffer.from('x') }));
      expect(none.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(none.details).toMatch(/^MissingAuthenticationTokenException: /);
      const bad = await grpcFailure(wrong.Encrypt!({ key_id: keyId, plaintext: Buffer.from('x') }));
      expect(bad.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(bad.details).toMatch(/^UnrecognizedClientException: /);
      const md = new grpc.Metadata();
      md.set('authorization', 'AWS4-HMAC-SHA256 Credential=x');
      const sig = await grpcFailure(anonymous.Encrypt!({ key_id: keyId, plaintext: Buffer.from('x') }, md));
      expect(sig.details).toMatch(/^IncompleteSignatureException: .*Bearer/);
    } finally {
      anonymous.close();
      wrong.close();
    }
    const records = await auditRecords(t, 'Encrypt');
    expect(records.some((r) => r.result === 'MissingAuthenticationTokenException' && r.transport === 'grpc')).toBe(true);
    expect(records.some((r) => r.result === 'UnrecognizedClientException' && r.transport === 'grpc')).toBe(true);
  });

  it('answers an unknown method, a malformed message and an oversized one with the registry code, audited, and stays up', async () => {
    const raw = kms.raw;
    const unknown = await grpcFailure(rawCall(raw, '/keyward.v1.Kms/DropAllKeys', Buffer.alloc(0), t.admin.token));
    expect(unknown.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(unknown.details).toMatch(/^UnknownOperationException: Unknown method "\/keyward\.v1\.Kms\/DropAllKeys"/);
    expect(unknown.metadata.get('keyward-error-code')).toEqual(['UnknownOperationException']);
    const otherService = await grpcFailure(rawCall(raw, '/acme.Vault/Open', Buffer.from([1, 2, 3])));
    expect(otherService.details).toMatch(/^UnknownOperationException: /);

    const malformed = await grpcFailure(rawCall(raw, '/keyward.v1.Kms/Encrypt', Buffer.from([0x12, 0x80]), t.admin.token));
    expect(malformed.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(malformed.details).toMatch(/^SerializationException: /);

    const big = await grpcFailure(kms.Encrypt!({ key_id: keyId, plaintext: Buffer.alloc(100 * 1024) }));
    expect(big.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(big.details).toMatch(/^RequestEntityTooLargeException: .*65536/);

    const ok = await kms.Encrypt!({ key_id: keyId, plaintext: Buffer.from('still up') });
    expect(ok.ciphertext_blob).toBeInstanceOf(Buffer);
    expect(await eventually(async () => (await auditRecords(t, 'Encrypt')).some((r) => r.result === 'RequestEntityTooLargeException'), 10_000)).toBe(true);
    expect((await auditRecords(t, 'Encrypt')).some((r) => r.result === 'SerializationException')).toBe(true);
    // the caller's method path is recorded under a fixed name, as a digest
    const digest = `sha256:${createHash('sha256').update('/keyward.v1.Kms/DropAllKeys').digest('hex').slice(0, 32)}`;
    const unknownRecords = (await auditRecords(t, 'UnknownOperation')).filter((r) => (r.request as Record<string, string>).Target === digest);
    expect(unknownRecords.map((r) => r.result)).toEqual(['UnknownOperationException']);
  });

  it('records a gRPC request like its HTTP twin', async () => {
    const token = { token: t.admin.token };
    await callTarget(t.url, 'TrentService.Encrypt', { KeyId: keyId, Plaintext: Buffer.from('twin').toString('base64'), EncryptionContext: { twin: 'yes' } }, token);
    await kms.Encrypt!({ key_id: keyId, plaintext: Buffer.from('twin'), encryption_context: { twin: 'yes' } });
    const records = (await auditRecords(t, 'Encrypt')).filter((r) => (r.request as Record<string, string>)['EncryptionContext.twin'] !== undefined);
    expect(records).toHaveLength(2);
    const [http, viaGrpc] = records;
    const pick = (r: Record<string, unknown>) => ({ op: r.op, principal: r.principal, tenant: r.tenant, credential: r.credential, keyId: r.keyId, keyVersion: r.keyVersion, result: r.result, request: r.request, source: r.source });
    expect(pick(viaGrpc!)).toEqual(pick(http!));
    expect([http!.transport, viaGrpc!.transport]).toEqual(['http', 'grpc']);
    expect(JSON.stringify(viaGrpc)).not.toContain(Buffer.from('twin').toString('base64'));
  });

  it('offers server reflection', async () => {
    const Ctor = (reflectionPkg.grpc as grpc.GrpcObject).reflection as grpc.GrpcObject;
    const Svc = (Ctor.v1 as grpc.GrpcObject).ServerReflection as grpc.ServiceClientConstructor;
    const client = new Svc(t.server.grpcAddress!, grpc.credentials.createInsecure());
    try {
      const services = await new Promise<string[]>((res, rej) => {
        type Answer = { list_services_response?: { service: Array<{ name: string }> } };
        const stream = (client as unknown as { ServerReflectionInfo(): grpc.ClientDuplexStream<unknown, Answer> }).ServerReflectionInfo();
        stream.on('data', (m: Answer) => {
          res((m.list_services_response?.service ?? []).map((s) => s.name));
          stream.end();
        });
        stream.on('error', rej);
        stream.write({ list_services: '' });
      });
      expect(services).toEqual(expect.arrayContaining(['keyward.v1.Kms', 'grpc.health.v1.Health']));
    } finally {
      client.close();
    }
  });
});

describe('gRPC while sealed', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ config: { grpcListen: '127.0.0.1:0' } });
  });
  afterAll(async () => t?.close());

  it('answers UNAVAILABLE with the SealedException message, health follows the seal', async () => {
    const kms = grpcClient(pkg, 'keyward.v1.Kms', t.server.grpcAddress!, { token: t.admin.token });
    const health = grpcClient(healthPkg, 'grpc.health.v1.Health', t.server.grpcAddress!);
    const Svc = ((healthPkg.grpc as grpc.GrpcObject).health as grpc.GrpcObject).v1 as grpc.GrpcObject;
    const watcher = new (Svc.Health as grpc.ServiceClientConstructor)(t.server.grpcAddress!, grpc.credentials.createInsecure());
    const seen: string[] = [];
    const watch = (watcher as unknown as { Watch(r: object): grpc.ClientReadableStream<{ status: string }> }).Watch({ service: 'keyward.v1.Kms' });
    watch.on('data', (m: { status: string }) => seen.push(m.status));
    watch.on('error', () => undefined);
    try {
      expect((await health.Check!({ service: '' })).status).toBe('SERVING');
      expect((await health.Check!({ service: 'keyward.v1.Kms' })).status).toBe('SERVING');
      expect((await grpcFailure(health.Check!({ service: 'acme.Nothing' }))).code).toBe(grpc.status.NOT_FOUND);
      expect(await eventually(() => seen.includes('SERVING'), 10_000)).toBe(true);

      const sealed = await fetch(`${t.url}/v1/sys/seal`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.admin.token}` }, body: '{}' });
      expect(sealed.status).toBe(200);
      const e = await grpcFailure(kms.GenerateRandom!({ number_of_bytes: 8 }));
      expect(e.code).toBe(grpc.status.UNAVAILABLE);
      expect(e.details).toMatch(/^SealedException: Keyward is sealed/);
      expect((await health.Check!({ service: '' })).status).toBe('NOT_SERVING');
      expect(await eventually(() => seen.at(-1) === 'NOT_SERVING', 10_000)).toBe(true);

      const unsealed = await fetch(`${t.url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: TEST_PASSPHRASE }) });
      expect(unsealed.status).toBe(200);
      expect((await health.Check!({ service: 'keyward.v1.Kms' })).status).toBe('SERVING');
      expect(await eventually(() => seen.at(-1) === 'SERVING', 10_000)).toBe(true);
      expect(seen).toEqual(['SERVING', 'NOT_SERVING', 'SERVING']);
    } finally {
      watch.cancel();
      watcher.close();
      kms.close();
      health.close();
    }
  });
});

describe('gRPC listeners', () => {
  const dir = tempDir();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a non-loopback gRPC address without TLS, and serves it with TLS', async () => {
    await expect(startServer(loadConfig({ dataDir: join(dir, 'a'), listen: '127.0.0.1:0', grpcListen: '0.0.0.0:0', logLevel: 'silent' }, {})))
      .rejects.toThrow(/gRPC on 0\.0\.0\.0 without TLS/);
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    const first = await startTestServer({ dataDir: join(dir, 'b') });
    await first.close();
    const server = await startServer(loadConfig({ dataDir: join(dir, 'b'), listen: '127.0.0.1:0', grpcListen: '0.0.0.0:0', tlsCert: cert, tlsKey: key, logLevel: 'silent', ...FAST_ARGON2 }, {}));
    const t = { close: () => server.close() };
    await server.installation.seal.unseal({ passphrase: TEST_PASSPHRASE });
    const port = server.grpcAddress!.split(':').at(-1)!;
    const kms = grpcClient(pkg, 'keyward.v1.Kms', `127.0.0.1:${port}`, { token: first.admin.token, ca: readFileSync(cert) });
    const plain = grpcClient(pkg, 'keyward.v1.Kms', `127.0.0.1:${port}`, { token: first.admin.token });
    try {
      expect(((await kms.GenerateRandom!({ number_of_bytes: 4 })).plaintext as Buffer).length).toBe(4);
      expect((await grpcFailure(plain.GenerateRandom!({ number_of_bytes: 4 }))).code).toBe(grpc.status.UNAVAILABLE);
    } finally {
      kms.close();
      plain.close();
      await t.close();
    }
  });

  it('serves a Unix socket (0600 in 0700) with a bound principal; a token still names its own principal', async () => {
    const socket = join(dir, 'run', 'grpc.sock');
    const first = await startTestServer({ dataDir: join(dir, 'c') });
    const created = await callTarget(first.url, 'Keyward.CreatePrincipal', { Name: 'plugin', Role: 'user' }, { token: first.admin.token });
    expect(created.status).toBe(200);
    await first.close();
    const t = await startTestServer({ dataDir: join(dir, 'c'), admin: first.admin, config: { grpcSocket: socket, grpcSocketPrincipal: 'plugin' } });
    await fetch(`${t.url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: TEST_PASSPHRASE }) });
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'run')).mode & 0o777).toBe(0o700);
    const bound = grpcClient(pkg, 'keyward.v1.Kms', `unix:${socket}`);
    const withToken = grpcClient(pkg, 'keyward.v1.Kms', `unix:${socket}`, { token: 'kw.0000000000000000.wrong' });
    try {
      const key = await callTarget(t.url, 'TrentService.CreateKey', {}, { token: t.admin.token });
      const id = String((key.body.KeyMetadata as Record<string, unknown>).KeyId);
      const enc = await bound.Encrypt!({ key_id: id, plaintext: Buffer.from('via socket') });
      expect(Buffer.from((await bound.Decrypt!({ ciphertext_blob: enc.ciphertext_blob })).plaintext as Buffer).toString()).toBe('via socket');
      expect((await grpcFailure(withToken.Encrypt!({ key_id: id, plaintext: Buffer.from('x') }))).code).toBe(grpc.status.UNAUTHENTICATED);
      const records = (await callTarget(t.url, 'Keyward.ListAuditRecords', { Op: 'Encrypt' }, { token: t.admin.token })).body.Records as Array<Record<string, unknown>>;
      expect(records.find((r) => r.principal === 'plugin')).toMatchObject({ source: 'unix-socket', transport: 'grpc', credential: 'bound-principal:default/plugin' });
      expect((await callTarget(t.url, 'Keyward.DeletePrincipal', { Name: 'plugin' }, { token: t.admin.token })).status).toBe(200);
      const gone = await grpcFailure(bound.Encrypt!({ key_id: id, plaintext: Buffer.from('x') }));
      expect(gone.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(gone.details).toMatch(/^UnrecognizedClientException: .*plugin/);
    } finally {
      bound.close();
      withToken.close();
      await t.close();
    }
  });

  it('keyward server --grpc-listen (the built CLI) serves gRPC and says where', async () => {
    const p = await spawnKeyward(['server', '--data-dir', join(dir, 'cli'), '--listen', '127.0.0.1:0', '--grpc-listen', '127.0.0.1:0'], { KEYWARD_LOG_LEVEL: 'warn' });
    try {
      expect(await eventually(() => /keyward gRPC listening on 127\.0\.0\.1:\d+/.test(p.output()), 10_000)).toBe(true);
      const address = /keyward gRPC listening on (127\.0\.0\.1:\d+)/.exec(p.output())![1]!;
      const health = grpcClient(healthPkg, 'grpc.health.v1.Health', address);
      try {
        expect((await health.Check!({ service: '' })).status).toBe('NOT_SERVING'); // not initialised yet
      } finally {
        health.close();
      }
    } finally {
      await p.stop();
    }
  });

  it('refuses a gRPC socket directory others can enter', async () => {
    const open = join(dir, 'open');
    mkdirSync(open, { mode: 0o755 });
    chmodSync(open, 0o755);
    await expect(startServer(loadConfig({ dataDir: join(dir, 'd'), listen: '127.0.0.1:0', grpcSocket: join(open, 'g.sock'), logLevel: 'silent', ...FAST_ARGON2 }, {})))
      .rejects.toThrow(/mode 0700/);
  });
});
