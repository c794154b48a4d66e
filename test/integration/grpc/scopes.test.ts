import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTarget } from '../../helpers/keyward-api.js';
import { grpc, grpcClient, grpcFailure, loadProto, type GrpcClient } from '../../helpers/grpc.js';
import { TEST_PASSPHRASE, startTestServer, tempDir, type TestServer } from '../../helpers/server.js';

const pkg = loadProto(['keyward/v1/scopes.proto', 'keyward/v1/keys.proto']);

describe('scopes over the Keyward Scopes service and HTTP', () => {
  let t: TestServer;
  let scopes: GrpcClient;
  let userToken: string;
  let otherTenantToken: string;

  beforeAll(async () => {
    t = await startTestServer({ config: { grpcListen: '127.0.0.1:0' } });
    scopes = grpcClient(pkg, 'keyward.v1.Scopes', t.server.grpcAddress!, { token: t.admin.token });
    const admin = { token: t.admin.token };
    userToken = String(((await callTarget(t.url, 'Keyward.CreatePrincipal', { Name: 'svc', Role: 'user' }, admin)).body.Credentials as Record<string, unknown>).Token);
    expect((await callTarget(t.url, 'Keyward.CreateTenant', { TenantId: 'acme' }, admin)).status).toBe(200);
    const other = await callTarget(t.url, 'Keyward.CreatePrincipal', { Tenant: 'acme', Name: 'svc', Role: 'user' }, admin);
    otherTenantToken = String((other.body.Credentials as Record<string, unknown>).Token);
  });
  afterAll(async () => {
    scopes?.close();
    await t?.close();
  });

  it('creates a scope on first use: an ordinary key behind alias/scope/<id>, versions named exactly', async () => {
    const enc = await scopes.ScopeEncrypt!({ tenant_id: 'default', scope_id: 'billing/invoices', plaintext: Buffer.from('inv-1'), encryption_context: { aad: 'row-1' } });
    expect(String(enc.key_version_id)).toMatch(/^[0-9a-f-]{36}:1$/);
    const aliases = await callTarget(t.url, 'TrentService.ListAliases', {}, { token: t.admin.token });
    const alias = (aliases.body.Aliases as Array<Record<string, unknown>>).find((a) => a.AliasName === 'alias/scope/billing/invoices');
    expect(alias).toBeDefined();
    expect(String(enc.key_id)).toContain(`:key/${String(alias!.TargetKeyId)}`);
    const keys = await callTarget(t.url, 'TrentService.ListKeys', {}, { token: t.admin.token });
    expect((keys.body.Keys as Array<Record<string, unknown>>).map((k) => k.KeyId)).toContain(alias!.TargetKeyId);
    // the same scope over HTTP, with the ciphertext from gRPC
    const dec = await callTarget(t.url, 'Keyward.ScopeDecrypt', {
      ScopeId: 'billing/invoices', CiphertextBlob: (enc.ciphertext_blob as Buffer).toString('base64'), EncryptionContext: { aad: 'row-1' }, KeyVersionId: enc.key_version_id,
    }, { token: userToken });
    expect(dec.status).toBe(200);
    expect(Buffer.from(String(dec.body.Plaintext), 'base64').toString()).toBe('inv-1');
    // and a plain AWS Decrypt works too: a scope is an ordinary key
    const aws = await callTarget(t.url, 'TrentService.Decrypt', { CiphertextBlob: (enc.ciphertext_blob as Buffer).toString('base64'), EncryptionContext: { aad: 'row-1' } }, { token: userToken });
    expect(Buffer.from(String(aws.body.Plaintext), 'base64').toString()).toBe('inv-1');
  });

  it('decrypts old versions after a rotation and re-encrypts to the current one', async () => {
    const v1 = await scopes.ScopeEncrypt!({ scope_id: 'rotating', plaintext: Buffer.from('old') });
    const rotated = await scopes.RotateScope!({ scope_id: 'rotating' });
    expect(rotated.version).toBe(2);
    const v2 = await scopes.ScopeEncrypt!({ scope_id: 'rotating', plaintext: Buffer.from('new') });
    expect(String(v2.key_version_id)).toMatch(/:2$/);
    const old = await scopes.ScopeDecrypt!({ scope_id: 'rotating', ciphertext_blob: v1.ciphertext_blob, key_version_id: v1.key_version_id });
    expect(Buffer.from(old.plaintext as Buffer).toString()).toBe('old');
    expect(old.key_version_id).toBe(v1.key_version_id);
    const re = await scopes.ScopeReEncrypt!({ scope_id: 'rotating', ciphertext_blob: v1.ciphertext_blob, source_key_version_id: v1.key_version_id, destination_encryption_context: { to: 'v2' } });
    expect(re.key_version_id).toBe(rotated.key_version_id);
    expect(re.source_key_version_id).toBe(v1.key_version_id);
    const info = await scopes.DescribeScope!({ scope_id: 'rotating' });
    expect(info).toMatchObject({ version: 2, status: 'active', key_state: 'Enabled' });
    expect(Number(info.max_encryptions)).toBe(2 ** 30);
    expect(Number(info.encryption_count)).toBe(2);
    const created = await scopes.CreateScope!({ scope_id: 'rotating' });
    expect(created).toMatchObject({ version: 2 });
    expect(created.created ?? false).toBe(false);
  });

  it('refuses bad scope input with the field named, and changes nothing', async () => {
    const before = ((await callTarget(t.url, 'TrentService.ListAliases', {}, { token: t.admin.token })).body.Aliases as unknown[]).length;
    const odd = await grpcFailure(scopes.ScopeEncrypt!({ scope_id: 'bad scope!', plaintext: Buffer.from('x') }));
    expect(odd.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(odd.details).toMatch(/^ValidationException: .*'scopeId'/);
    const long = await grpcFailure(scopes.ScopeEncrypt!({ scope_id: 'a'.repeat(257), plaintext: Buffer.from('x') }));
    expect(long.details).toMatch(/^ValidationException: .*'scopeId'.*244/);
    expect((await grpcFailure(scopes.ScopeEncrypt!({ plaintext: Buffer.from('x') }))).details).toMatch(/'scopeId'.*null/);
    expect((await grpcFailure(scopes.ScopeEncrypt!({ scope_id: '/lead', plaintext: Buffer.from('x') }))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await grpcFailure(scopes.DescribeScope!({ scope_id: 'never-used' }))).code).toBe(grpc.status.NOT_FOUND);
    const enc = await scopes.ScopeEncrypt!({ scope_id: 'a', plaintext: Buffer.from('x') });
    await scopes.ScopeEncrypt!({ scope_id: 'b', plaintext: Buffer.from('y') });
    const otherScope = await scopes.ScopeEncrypt!({ scope_id: 'b', plaintext: Buffer.from('z') });
    const wrongVersionId = await grpcFailure(scopes.ScopeDecrypt!({ scope_id: 'a', ciphertext_blob: enc.ciphertext_blob, key_version_id: otherScope.key_version_id }));
    expect(wrongVersionId.details).toMatch(/^IncorrectKeyException: /);
    const wrongBlob = await grpcFailure(scopes.ScopeDecrypt!({ scope_id: 'a', ciphertext_blob: otherScope.ciphertext_blob }));
    expect(wrongBlob.details).toMatch(/^IncorrectKeyException: /);
    expect((await grpcFailure(scopes.ScopeDecrypt!({ scope_id: 'a', ciphertext_blob: enc.ciphertext_blob, key_version_id: 'not-an-id' }))).details).toMatch(/^ValidationException: .*'keyVersionId'/);
    const after = ((await callTarget(t.url, 'TrentService.ListAliases', {}, { token: t.admin.token })).body.Aliases as unknown[]).length;
    expect(after).toBe(before + 2);
  });

  it('keeps tenants apart and lets a tenant turn implicit creation off', async () => {
    const asOther = grpcClient(pkg, 'keyward.v1.Scopes', t.server.grpcAddress!, { token: otherTenantToken });
    const asUser = grpcClient(pkg, 'keyward.v1.Scopes', t.server.grpcAddress!, { token: userToken });
    try {
      const crossing = await grpcFailure(asOther.ScopeEncrypt!({ tenant_id: 'default', scope_id: 'billing/invoices', plaintext: Buffer.from('x') }));
      expect(crossing.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(crossing.details).toMatch(/^AccessDeniedException: .*own tenant \(acme\)/);
      // acme's own scope of the same name is another key
      const mine = await asOther.ScopeEncrypt!({ tenant_id: 'acme', scope_id: 'billing/invoices', plaintext: Buffer.from('acme') });
      const dflt = await scopes.ScopeEncrypt!({ scope_id: 'billing/invoices', plaintext: Buffer.from('dflt') });
      expect(String(mine.key_version_id).split(':')[0]).not.toBe(String(dflt.key_version_id).split(':')[0]);
      expect((await grpcFailure(scopes.ScopeDecrypt!({ scope_id: 'billing/invoices', ciphertext_blob: mine.ciphertext_blob }))).details).toMatch(/^InvalidCiphertextException: /);

      expect((await grpcFailure(asUser.ConfigureScopes!({ implicit_create: false }))).code).toBe(grpc.status.PERMISSION_DENIED);
      expect(await scopes.ConfigureScopes!({ implicit_create: false })).toMatchObject({ tenant_id: 'default' });
      const refused = await grpcFailure(asUser.ScopeEncrypt!({ scope_id: 'fresh', plaintext: Buffer.from('x') }));
      expect(refused.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(refused.details).toMatch(/does not let data-plane principals create scopes/);
      expect((await asUser.ScopeEncrypt!({ scope_id: 'billing/invoices', plaintext: Buffer.from('existing') })).key_version_id).toBeDefined();
      expect((await scopes.CreateScope!({ scope_id: 'fresh' })).created).toBe(true);
      expect((await asUser.ScopeEncrypt!({ scope_id: 'fresh', plaintext: Buffer.from('x') })).key_version_id).toBeDefined();
      await scopes.ConfigureScopes!({ implicit_create: true });
      expect((await asUser.ScopeEncrypt!({ scope_id: 'fresh-2', plaintext: Buffer.from('x') })).key_version_id).toBeDefined();
      expect((await grpcFailure(asUser.RotateScope!({ scope_id: 'fresh' }))).code).toBe(grpc.status.PERMISSION_DENIED);
    } finally {
      asOther.close();
      asUser.close();
    }
  });

  it('batches scope items with shared tenant and scope', async () => {
    const enc = await scopes.BatchScopeEncrypt!({ scope_id: 'batch', items: Array.from({ length: 10 }, (_, i) => ({ plaintext: Buffer.from(`b${i}`) })) });
    const results = enc.results as Array<Record<string, unknown>>;
    const dec = await scopes.BatchScopeDecrypt!({ scope_id: 'batch', items: results.map((r) => ({ ciphertext_blob: r.ciphertext_blob, key_version_id: r.key_version_id })) });
    expect((dec.results as Array<Record<string, unknown>>).map((r) => Buffer.from(r.plaintext as Buffer).toString())).toEqual(Array.from({ length: 10 }, (_, i) => `b${i}`));
  });
});

describe('usage-bounded rotation on SQLite', () => {
  const dir = tempDir();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('rotates after the maximum, never encrypts more under one version, and keeps counts across a restart', async () => {
    const config = { grpcListen: '127.0.0.1:0', scopeMaxEncryptions: 5, scopeReserveBlock: 2 };
    const t = await startTestServer({ dataDir: join(dir, 'a'), config });
    let client = grpcClient(pkg, 'keyward.v1.Scopes', t.server.grpcAddress!, { token: t.admin.token });
    const versions: string[] = [];
    try {
      for (let i = 0; i < 3; i++) versions.push(String((await client.ScopeEncrypt!({ scope_id: 'bounded', plaintext: Buffer.from([i]) })).key_version_id));
      // 3 used; the node holds a reserved block of 2 (4 of 5 reserved)
      expect(Number((await client.DescribeScope!({ scope_id: 'bounded' })).encryption_count)).toBe(3);
    } finally {
      client.close();
      await t.close();
    }
    const again = await startTestServer({ dataDir: join(dir, 'a'), admin: t.admin, config });
    await fetch(`${again.url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: TEST_PASSPHRASE }) });
    client = grpcClient(pkg, 'keyward.v1.Scopes', again.server.grpcAddress!, { token: t.admin.token });
    try {
      // the unused rest of the first node's block is forfeited: 4 counted before the restart
      expect(Number((await client.DescribeScope!({ scope_id: 'bounded' })).encryption_count)).toBe(4);
      for (let i = 0; i < 12; i++) versions.push(String((await client.ScopeEncrypt!({ scope_id: 'bounded', plaintext: Buffer.from([i]) })).key_version_id));
      const perVersion = new Map<string, number>();
      for (const v of versions) perVersion.set(v, (perVersion.get(v) ?? 0) + 1);
      expect([...perVersion.values()].every((n) => n <= 5)).toBe(true);
      expect(versions[0]).toMatch(/:1$/);
      expect(perVersion.get(versions[0]!)).toBe(4);
      expect(versions.at(-1)).toMatch(/:4$/);
      const info = await client.DescribeScope!({ scope_id: 'bounded' });
      expect(info.version).toBe(4);
      expect(Number(info.max_encryptions)).toBe(5);
      const keys = grpcClient(pkg, 'keyward.v1.Keys', again.server.grpcAddress!, { token: t.admin.token });
      try {
        // ListKeyRotations takes a key id or ARN only (as AWS): the scope's key id from DescribeKey
        const scopeKeyId = String(((await keys.DescribeKey!({ key_id: 'alias/scope/bounded' })).key_metadata as Record<string, unknown>).key_id);
        const rotations = (await keys.ListKeyRotations!({ key_id: scopeKeyId })).rotations as Array<Record<string, unknown>>;
        expect(rotations.map((r) => r.rotation_type)).toEqual(['AUTOMATIC', 'AUTOMATIC', 'AUTOMATIC']);
      } finally {
        keys.close();
      }
    } finally {
      client.close();
      await again.close();
    }
  });
});
