import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CreateAliasCommand, CreateKeyCommand } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { grpc, grpcClient, grpcFailure, loadProto } from '../../helpers/grpc.js';
import { callTarget } from '../../helpers/keyward-api.js';
import { NdjsonClient } from '../../helpers/ndjson.js';
import { capturingLogger, startTestServer, tempDir } from '../../helpers/server.js';
import { eventually, pollUntil } from '../../helpers/wait.js';

type Line = Record<string, unknown> & { msg: string };

const kmsProto = loadProto(['keyward/v1/kms.proto']);
const k8sProto = loadProto(['kubernetes/kms/v2/api.proto']);
const b64 = (s: string) => Buffer.from(s).toString('base64');

/**
 * Issue 21 item 7: gRPC, mini-kms's NDJSON socket and the Kubernetes KMS plugin write the HTTP
 * access log's line (request id, principal, operation, key id, status, code, duration), switched
 * by the same accessLog setting, never with a secret.
 */
describe('access log on every transport', () => {
  it('one line per gRPC call, mini-kms request and KMS plugin call, with the same fields as HTTP and no secrets', async () => {
    const dir = tempDir('keyward-access-');
    mkdirSync(join(dir, 'sockets'), { mode: 0o700 });
    const capture = capturingLogger('info');
    const t = await startTestServer({
      log: capture.log,
      config: {
        grpcListen: '127.0.0.1:0', minikmsSocket: join(dir, 'sockets', 'minikms.sock'),
        k8sKmsSocket: join(dir, 'sockets', 'k8s.sock'), k8sKmsKey: 'alias/k8s', k8sKmsPrincipal: 'kube-apiserver',
      },
    });
    const requests = (transport: string) => capture.lines.filter((l) => l.msg === 'request' && l.transport === transport);
    const lineFor = async (transport: string, match: (l: Line) => boolean, what: string): Promise<Line> => {
      expect(await eventually(() => requests(transport).some(match), 10_000), what).toBe(true);
      return requests(transport).find(match)!;
    };
    try {
      const key = await t.kms.send(new CreateKeyCommand({}));
      const keyId = key.KeyMetadata!.KeyId!;
      await t.kms.send(new CreateAliasCommand({ AliasName: 'alias/k8s', TargetKeyId: keyId }));
      const plaintext = `secret-${randomUUID()}`;

      // gRPC: a real client; a success, a failure (wrong context) and an unauthenticated call
      const kms = grpcClient(kmsProto, 'keyward.v1.Kms', t.server.grpcAddress!, { token: t.admin.token });
      try {
        const enc = await kms.Encrypt!({ key_id: keyId, plaintext: Buffer.from(plaintext), encryption_context: { a: '1' } });
        const ok = await lineFor('grpc', (l) => l.operation === 'Encrypt' && l.code === 'OK', 'gRPC Encrypt line');
        expect(ok).toMatchObject({ level: 30, status: 0, keyId: expect.stringContaining(keyId) as unknown, principal: 'default/admin' });
        expect(ok.requestId).toMatch(/^[0-9a-f-]{36}$/);
        expect(typeof ok.durationMs).toBe('number');
        const failed = await grpcFailure(kms.Decrypt!({ ciphertext_blob: enc.ciphertext_blob, encryption_context: { a: '2' } }));
        const bad = await lineFor('grpc', (l) => l.operation === 'Decrypt', 'gRPC Decrypt line');
        expect(bad).toMatchObject({ status: failed.code, code: 'InvalidCiphertextException', principal: 'default/admin' });
        // the request id in the line is the one the caller was told
        expect(failed.metadata.get('keyward-request-id')).toEqual([bad.requestId]);
      } finally {
        kms.close();
      }
      const anonymous = grpcClient(kmsProto, 'keyward.v1.Kms', t.server.grpcAddress!);
      try {
        expect((await grpcFailure(anonymous.GenerateRandom!({ number_of_bytes: 16 }))).code).toBe(grpc.status.UNAUTHENTICATED);
        const refused = await lineFor('grpc', (l) => l.operation === 'GenerateRandom', 'unauthenticated gRPC line');
        expect(refused).toMatchObject({ status: grpc.status.UNAUTHENTICATED, code: 'MissingAuthenticationTokenException' });
        expect(refused.principal).toBeUndefined();
      } finally {
        anonymous.close();
      }

      // mini-kms: a real socket client, NDJSON; a success and a refusal
      const user = await callTarget(t.url, 'Keyward.CreatePrincipal', { Name: 'app', Role: 'user' }, { token: t.admin.token });
      const userToken = (user.body.Credentials as { Token: string }).Token;
      const socket = await NdjsonClient.open({ path: t.server.minikmsSocketPath! });
      try {
        expect(await socket.call({ type: 'Encrypt', token: userToken, plaintext: b64(plaintext) })).toMatchObject({ status: 'ok' });
        const enc = await lineFor('minikms', (l) => l.operation === 'Encrypt', 'mini-kms Encrypt line');
        expect(enc).toMatchObject({ level: 30, status: 'ok', code: 'OK', principal: 'default/app' });
        expect(String(enc.keyId)).toMatch(/[0-9a-f-]{36}/);
        expect(await socket.call({ type: 'Decrypt', token: userToken, ciphertext: b64('not a ciphertext at all') })).toMatchObject({ status: 'error' });
        expect(await lineFor('minikms', (l) => l.operation === 'Decrypt', 'mini-kms Decrypt line')).toMatchObject({ status: 'DecryptionFailed', principal: 'default/app' });
        await socket.call({ type: 'Ping', token: 'wrong' });
        const denied = await lineFor('minikms', (l) => l.operation === 'Ping', 'mini-kms refused line');
        expect(denied).toMatchObject({ status: 'AuthFailed', code: 'UnrecognizedClientException' });
        expect(denied.principal).toBeUndefined();
      } finally {
        socket.close();
      }

      // the Kubernetes KMS plugin: Status and Encrypt as the API server sends them (no credentials: a bound socket)
      expect((await callTarget(t.url, 'Keyward.CreatePrincipal', { Name: 'kube-apiserver', Role: 'user' }, { token: t.admin.token })).status).toBe(200);
      const plugin = grpcClient(k8sProto, 'v2.KeyManagementService', `unix:${t.server.k8sKmsSocketPath!}`);
      try {
        await pollUntil(() => plugin.Status!({}), (s) => s.healthz === 'ok', 'the plugin to become healthy');
        await plugin.Encrypt!({ plaintext: Buffer.from(plaintext), uid: randomUUID() });
        expect(await lineFor('k8s-kms', (l) => l.operation === 'Status' && l.code === 'OK', 'plugin Status line')).toMatchObject({ status: 0, principal: 'default/kube-apiserver' });
        const enc = await lineFor('k8s-kms', (l) => l.operation === 'Encrypt', 'plugin Encrypt line');
        expect(enc).toMatchObject({ level: 30, status: 0, code: 'OK', principal: 'default/kube-apiserver' });
        expect(String(enc.keyId)).toContain(keyId);
        expect((await grpcFailure(plugin.Decrypt!({ ciphertext: Buffer.from('garbage'), uid: randomUUID(), key_id: 'x' }))).code).toBe(grpc.status.INVALID_ARGUMENT);
        expect(await lineFor('k8s-kms', (l) => l.operation === 'Decrypt', 'plugin Decrypt line')).toMatchObject({ code: 'InvalidCiphertextException', status: grpc.status.INVALID_ARGUMENT });
      } finally {
        plugin.close();
      }

      // the same fields as the HTTP line
      await callTarget(t.url, 'TrentService.DescribeKey', { KeyId: keyId }, { token: t.admin.token });
      const http = await lineFor('http', (l) => l.operation === 'DescribeKey', 'HTTP line');
      const fields = (l: Line) => Object.keys(l).filter((k) => !['level', 'time', 'pid', 'hostname'].includes(k)).sort();
      for (const transport of ['grpc', 'minikms', 'k8s-kms']) {
        const any = requests(transport).find((l) => l.code === 'OK' && l.keyId !== undefined)!;
        expect(fields(any), transport).toEqual(fields(http));
      }

      const all = capture.lines.map((l) => JSON.stringify(l)).join('\n');
      expect(all).not.toContain(plaintext);
      expect(all).not.toContain(b64(plaintext));
      expect(all).not.toContain(t.admin.token);
      expect(all).not.toContain(userToken);
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('accessLog=false silences every transport', async () => {
    const dir = tempDir('keyward-access-off-');
    mkdirSync(join(dir, 'sockets'), { mode: 0o700 });
    const capture = capturingLogger('info');
    const t = await startTestServer({ log: capture.log, config: { accessLog: 'false', grpcListen: '127.0.0.1:0', minikmsSocket: join(dir, 'sockets', 'minikms.sock') } });
    try {
      const kms = grpcClient(kmsProto, 'keyward.v1.Kms', t.server.grpcAddress!, { token: t.admin.token });
      try {
        await kms.GenerateRandom!({ number_of_bytes: 16 });
      } finally {
        kms.close();
      }
      const socket = await NdjsonClient.open({ path: t.server.minikmsSocketPath! });
      try {
        await socket.call({ type: 'Ping', token: t.admin.token });
      } finally {
        socket.close();
      }
      // a later line proves the log was flushed past both requests
      t.server.installation.log.info('marker');
      expect(await eventually(() => capture.lines.some((l) => l.msg === 'marker'), 10_000)).toBe(true);
      expect(capture.lines.filter((l) => l.msg === 'request')).toEqual([]);
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
