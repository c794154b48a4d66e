import { rmSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpc, grpcClient, grpcFailure, loadProto, type GrpcClient } from '../../helpers/grpc.js';
import { spawnKeyward, type KeywardProcess } from '../../helpers/process.js';
import { eventually } from '../../helpers/wait.js';

/**
 * A miniKMS client as a miniKMS user has it: built from the minikms.v1 protos with @grpc/grpc-js
 * only (no Keyward code), pointed at a `keyward server` process. Setup uses Keyward's HTTP API.
 */
const minikms = loadProto(['minikms/v1/kms.proto', 'minikms/v1/audit.proto']);
const TENANT = 'org-7f3a';

async function http(url: string, target: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const json = await res.json() as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`${target}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

describe('an unmodified miniKMS client against keyward server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keyward-minikms-'));
  let server: KeywardProcess;
  let address: string;
  let systemToken: string;
  let kms: GrpcClient;
  let adminKms: GrpcClient;
  let audit: GrpcClient;

  beforeAll(async () => {
    server = await spawnKeyward(['server', '--data-dir', dir, '--listen', '127.0.0.1:0', '--grpc-listen', '127.0.0.1:0'], {
      KEYWARD_LOG_LEVEL: 'warn', KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1', KEYWARD_SCOPE_MAX_ENCRYPTIONS: '1000000',
    });
    expect(await eventually(() => /keyward gRPC listening on /.test(server.output()), 10_000)).toBe(true);
    address = /keyward gRPC listening on (\S+)/.exec(server.output())![1]!;
    const init = await fetch(`${server.url}/v1/sys/init`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: 'minikms workflow passphrase' }) });
    systemToken = ((await init.json()) as { credentials: { token: string } }).credentials.token;
    await http(server.url, 'Keyward.CreateTenant', { TenantId: TENANT }, systemToken);
    const svc = await http(server.url, 'Keyward.CreatePrincipal', { Tenant: TENANT, Name: 'svc', Role: 'user' }, systemToken);
    const ops = await http(server.url, 'Keyward.CreatePrincipal', { Tenant: TENANT, Name: 'ops', Role: 'admin' }, systemToken);
    kms = grpcClient(minikms, 'minikms.v1.KMSService', address, { token: String((svc.Credentials as Record<string, unknown>).Token) });
    adminKms = grpcClient(minikms, 'minikms.v1.KMSService', address, { token: String((ops.Credentials as Record<string, unknown>).Token) });
    audit = grpcClient(minikms, 'minikms.v1.AuditService', address, { token: systemToken });
  });
  afterAll(async () => {
    kms?.close();
    adminKms?.close();
    audit?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the miniKMS workflow', async () => {
    const scope = { tenant_id: TENANT, scope_id: 'app-1f2e' };
    // Encrypt / Decrypt with aad; the scope is provisioned on first use
    const enc = await kms.Encrypt!({ ...scope, plaintext: Buffer.from('DATABASE_URL=postgres://x'), aad: 'env:prod' });
    expect(typeof enc.ciphertext).toBe('string');
    expect(Buffer.from(String(enc.ciphertext), 'base64').length).toBeGreaterThan(40);
    const dec = await kms.Decrypt!({ ...scope, ciphertext: enc.ciphertext, aad: 'env:prod', key_version_id: enc.key_version_id });
    expect(Buffer.from(dec.plaintext as Buffer).toString()).toBe('DATABASE_URL=postgres://x');
    const wrongAad = await grpcFailure(kms.Decrypt!({ ...scope, ciphertext: enc.ciphertext, aad: 'env:dev' }));
    expect(wrongAad.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(wrongAad.details).toMatch(/^InvalidCiphertextException/);

    // BatchEncrypt / BatchDecrypt of 100 items
    const items = Array.from({ length: 100 }, (_, i) => ({ plaintext: Buffer.from(`secret-${i}`), aad: `row:${i}` }));
    const batch = await kms.BatchEncrypt!({ ...scope, items });
    const encrypted = batch.items as Array<{ ciphertext: string; key_version_id: string }>;
    expect(encrypted).toHaveLength(100);
    const opened = await kms.BatchDecrypt!({ ...scope, items: encrypted.map((e, i) => ({ ciphertext: e.ciphertext, aad: `row:${i}`, key_version_id: e.key_version_id })) });
    expect((opened.items as Array<{ plaintext: Buffer }>).map((p) => Buffer.from(p.plaintext).toString())).toEqual(items.map((i) => i.plaintext.toString()));

    // CreateDataKey answers the current version; RotateDataKey makes a new one; old ciphertexts still decrypt
    const created = await kms.CreateDataKey!(scope);
    expect(created.key_version_id).toBe(enc.key_version_id);
    expect(created.version).toBe(1);
    const rotated = await adminKms.RotateDataKey!(scope);
    expect(String(rotated.new_key_version_id)).toMatch(/:2$/);
    const old = await kms.Decrypt!({ ...scope, ciphertext: enc.ciphertext, aad: 'env:prod', key_version_id: enc.key_version_id });
    expect(Buffer.from(old.plaintext as Buffer).toString()).toBe('DATABASE_URL=postgres://x');
    const fresh = await kms.Encrypt!({ ...scope, plaintext: Buffer.from('after rotation'), aad: 'env:prod' });
    expect(fresh.key_version_id).toBe(rotated.new_key_version_id);

    // ReEncrypt moves an old ciphertext to the current version (and may change the aad)
    const re = await kms.ReEncrypt!({ ...scope, ciphertext: enc.ciphertext, source_aad: 'env:prod', target_aad: 'env:prod:v2', source_key_version_id: enc.key_version_id });
    expect(re.key_version_id).toBe(rotated.new_key_version_id);
    const reopened = await kms.Decrypt!({ ...scope, ciphertext: re.ciphertext, aad: 'env:prod:v2', key_version_id: re.key_version_id });
    expect(Buffer.from(reopened.plaintext as Buffer).toString()).toBe('DATABASE_URL=postgres://x');

    // GetKeyInfo: the version's encryption count and maximum
    const info = await kms.GetKeyInfo!(scope);
    expect(info).toMatchObject({ key_version_id: rotated.new_key_version_id, version: 2, status: 'active' });
    expect(Number(info.encryption_count)).toBe(2);
    expect(Number(info.max_encryptions)).toBe(1_000_000);

    // GetAuditLogs / VerifyChain (a system administrator's credential)
    const logs = await audit.GetAuditLogs!({ org_id: TENANT, limit: 500, offset: 0 });
    const entries = logs.entries as Array<Record<string, string>>;
    expect(entries.length).toBeGreaterThanOrEqual(100 + 100 + 8);
    expect(entries.every((e) => e.org_id === TENANT)).toBe(true);
    expect(entries.find((e) => e.action === 'ScopeEncrypt')).toMatchObject({ actor_id: 'svc' });
    expect(entries[1]!.previous_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(entries.some((e) => e.action === 'RotateScope' && e.actor_id === 'ops')).toBe(true);
    expect(JSON.stringify(entries)).not.toContain('DATABASE_URL');
    const page = await audit.GetAuditLogs!({ org_id: TENANT, limit: 2, offset: 1 });
    expect((page.entries as Array<Record<string, string>>).map((e) => e.id)).toEqual([entries[1]!.id, entries[2]!.id]);
    expect((await audit.VerifyChain!({ org_id: TENANT })).valid).toBe(true);
  });

  it('refuses bad input with the registry code, and stays up', async () => {
    const scope = { tenant_id: TENANT, scope_id: 'app-bad-input' };
    await kms.Encrypt!({ ...scope, plaintext: Buffer.from('x') });
    const missingTenant = await grpcFailure(kms.Encrypt!({ scope_id: 'x', plaintext: Buffer.from('x') }));
    expect(missingTenant.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(missingTenant.details).toMatch(/^ValidationException: .*tenantId/i);
    expect((await grpcFailure(kms.Encrypt!({ tenant_id: TENANT, plaintext: Buffer.from('x') }))).details).toMatch(/^ValidationException: .*scopeId/i);
    expect((await grpcFailure(kms.Encrypt!({ tenant_id: TENANT, scope_id: 'a b;c', plaintext: Buffer.from('x') }))).details).toMatch(/^ValidationException: .*scopeId/i);
    expect((await grpcFailure(kms.Encrypt!({ tenant_id: TENANT, scope_id: 'x'.repeat(300), plaintext: Buffer.from('x') }))).details).toMatch(/^ValidationException: .*scopeId/i);
    const otherTenant = await grpcFailure(kms.Encrypt!({ tenant_id: 'default', scope_id: 'x', plaintext: Buffer.from('x') }));
    expect(otherTenant.code).toBe(grpc.status.PERMISSION_DENIED);
    const a = await kms.Encrypt!({ ...scope, plaintext: Buffer.from('a') });
    const b = await kms.Encrypt!({ tenant_id: TENANT, scope_id: 'app-other', plaintext: Buffer.from('b') });
    const foreignVersion = await grpcFailure(kms.Decrypt!({ ...scope, ciphertext: a.ciphertext, key_version_id: b.key_version_id }));
    expect(foreignVersion.details).toMatch(/^IncorrectKeyException: /);
    expect((await grpcFailure(kms.Decrypt!({ ...scope, ciphertext: 'not base64!!' }))).details).toMatch(/^ValidationException: /);
    const over = await grpcFailure(kms.BatchEncrypt!({ ...scope, items: Array.from({ length: 1001 }, () => ({ plaintext: Buffer.from('x') })) }));
    expect(over.details).toMatch(/^ValidationException: .*items.*1000/i);
    const oneBad = await grpcFailure(kms.BatchDecrypt!({ ...scope, items: [{ ciphertext: a.ciphertext }, { ciphertext: a.ciphertext, aad: 'wrong' }] }));
    expect(oneBad.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(oneBad.details).toMatch(/^InvalidCiphertextException: item 2: /);
    const missingScope = await grpcFailure(kms.GetKeyInfo!({ tenant_id: TENANT, scope_id: 'never-used' }));
    expect(missingScope.code).toBe(grpc.status.NOT_FOUND);
    expect((await grpcFailure(kms.RotateDataKey!(scope))).code).toBe(grpc.status.PERMISSION_DENIED);
    expect(Buffer.from((await kms.Decrypt!({ ...scope, ciphertext: a.ciphertext })).plaintext as Buffer).toString()).toBe('a');
  });
});
