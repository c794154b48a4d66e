import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CreateAliasCommand, CreateKeyCommand, EncryptCommand, RotateKeyOnDemandCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpc, grpcClient, grpcFailure, loadProto, type GrpcClient } from '../../helpers/grpc.js';
import { callTarget } from '../../helpers/keyward-api.js';
import { startTestServer, tempDir, type TestServer } from '../../helpers/server.js';
import { pollUntil } from '../../helpers/wait.js';

/**
 * The Kubernetes KMS v2 plugin, driven as the kube-apiserver drives it: a client built only from
 * the v2 proto (package v2, service KeyManagementService) over the plugin's Unix socket, no
 * credentials (the socket is bound to a principal).
 */
const v2 = loadProto(['kubernetes/kms/v2/api.proto']);
/** RFC 1123 fully qualified domain name, as the API server checks annotation keys. */
const FQDN = /^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)+$/;

describe('Kubernetes KMS v2 plugin', () => {
  let t: TestServer;
  let dir: string;
  let socketPath: string;
  let kms: GrpcClient;

  beforeAll(async () => {
    dir = tempDir('keyward-k8s-');
    mkdirSync(join(dir, 'kms'), { mode: 0o700 });
    socketPath = join(dir, 'kms', 'keyward.sock');
    t = await startTestServer({ config: { k8sKmsSocket: socketPath, k8sKmsKey: 'alias/k8s-secrets', k8sKmsPrincipal: 'kube-apiserver' } });
    kms = grpcClient(v2, 'v2.KeyManagementService', `unix:${socketPath}`);
  });
  afterAll(async () => {
    kms?.close();
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('listens on a 0600 socket and reports what is missing in healthz until the principal and key exist', async () => {
    expect(t.server.k8sKmsSocketPath).toBe(socketPath);
    expect(statSync(socketPath).mode & 0o777).toBe(0o600);
    const status = await kms.Status!({});
    expect(status.version).toBe('v2');
    expect(status.healthz).not.toBe('ok');
    expect(String(status.healthz)).toMatch(/kube-apiserver/);
    expect((await grpcFailure(kms.Encrypt!({ plaintext: Buffer.from('x'), uid: randomUUID() }))).code).toBe(grpc.status.UNAUTHENTICATED);

    expect((await callTarget(t.url, 'Keyward.CreatePrincipal', { Name: 'kube-apiserver', Role: 'user' }, { token: t.admin.token })).status).toBe(200);
    const notYet = await kms.Status!({});
    expect(notYet.healthz).toMatch(/^NotFoundException/);
  });

  it('runs the API server flow: Status, Encrypt a Secret, rotate, new key_id, Decrypt old and new', async () => {
    const key = await t.kms.send(new CreateKeyCommand({ Description: 'Kubernetes Secrets' }));
    await t.kms.send(new CreateAliasCommand({ AliasName: 'alias/k8s-secrets', TargetKeyId: key.KeyMetadata!.KeyId! }));
    const first = await pollUntil(() => kms.Status!({}), (s) => s.healthz === 'ok', 'the plugin to become healthy');
    expect(first.version).toBe('v2');
    expect(first.key_id).toBe(`${key.KeyMetadata!.KeyId}:1`);

    // a Secret-sized payload (the API server sends a DEK seed; older configurations the object itself)
    const secret = randomBytes(1024);
    const enc = await kms.Encrypt!({ plaintext: secret, uid: randomUUID() });
    expect(enc.key_id).toBe(first.key_id);
    const annotations = enc.annotations as Record<string, Buffer>;
    let size = 0;
    for (const [k, v] of Object.entries(annotations)) {
      expect(k).toMatch(FQDN);
      size += Buffer.byteLength(k) + v.length;
    }
    expect(Object.keys(annotations).length).toBeGreaterThan(0);
    expect(size).toBeLessThan(32 * 1024);
    expect(Buffer.from(enc.ciphertext as Buffer).includes(secret.subarray(0, 16))).toBe(false);

    await t.kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyMetadata!.KeyId })); // key id or ARN only, as AWS
    const second = await pollUntil(() => kms.Status!({}), (s) => s.key_id !== first.key_id, 'Status to show the rotated key');
    expect(second.healthz).toBe('ok');
    expect(second.key_id).toBe(`${key.KeyMetadata!.KeyId}:2`);
    const enc2 = await kms.Encrypt!({ plaintext: Buffer.from('after rotation'), uid: randomUUID() });
    expect(enc2.key_id).toBe(second.key_id);

    const old = await kms.Decrypt!({ ciphertext: enc.ciphertext, uid: randomUUID(), key_id: enc.key_id, annotations: enc.annotations });
    expect(Buffer.from(old.plaintext as Buffer).equals(secret)).toBe(true);
    const fresh = await kms.Decrypt!({ ciphertext: enc2.ciphertext, uid: randomUUID(), key_id: enc2.key_id, annotations: enc2.annotations });
    expect(Buffer.from(fresh.plaintext as Buffer).toString()).toBe('after rotation');

    // audited as the principal bound to the socket
    const records = (await callTarget(t.url, 'Keyward.ListAuditRecords', { Op: 'Encrypt', Limit: 1000 }, { token: t.admin.token })).body.Records as Array<Record<string, unknown>>;
    expect(records.some((r) => r.principal === 'kube-apiserver' && r.transport === 'grpc' && r.result === 'OK')).toBe(true);
  });

  it('refuses foreign, unknown and empty input with gRPC errors and no oracle', async () => {
    const other = await t.kms.send(new CreateKeyCommand({}));
    const foreign = await t.kms.send(new EncryptCommand({ KeyId: other.KeyMetadata!.KeyId!, Plaintext: Buffer.from('not for the plugin') }));
    const genuine = await kms.Encrypt!({ plaintext: Buffer.from('genuine'), uid: randomUUID() });
    const tampered = Buffer.from(genuine.ciphertext as Buffer);
    tampered[tampered.length - 1] = tampered[tampered.length - 1]! ^ 1;
    const failures = await Promise.all([
      Buffer.from(foreign.CiphertextBlob!), randomBytes(120), tampered, Buffer.from('k8s:enc:kms:v2:foo:'),
    ].map((ciphertext) => grpcFailure(kms.Decrypt!({ ciphertext, uid: randomUUID(), key_id: String(genuine.key_id) }))));
    for (const f of failures) {
      expect(f.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(f.details).toBe(failures[0]!.details);
      expect(f.details).toMatch(/^InvalidCiphertextException/);
    }
    expect((await grpcFailure(kms.Encrypt!({}))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await grpcFailure(kms.Decrypt!({}))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await kms.Status!({})).healthz).toBe('ok');
  });

  it('answers Status not ok and refuses Encrypt while sealed', async () => {
    expect((await fetch(`${t.url}/v1/sys/seal`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.admin.token}` } })).status).toBe(200);
    const status = await kms.Status!({});
    expect(status.version).toBe('v2');
    expect(status.healthz).not.toBe('ok');
    expect(status.healthz).toMatch(/^SealedException/);
    const refused = await grpcFailure(kms.Encrypt!({ plaintext: Buffer.from('x'), uid: randomUUID() }));
    expect(refused.code).toBe(grpc.status.UNAVAILABLE);
  });
});
