import { CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, ListKeysCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf } from '../../helpers/errors.js';
import { callTarget } from '../../helpers/keyward-api.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

interface Creds { AccessKeyId: string; SecretAccessKey: string; Token: string }
const sdk = (c: Creds) => ({ accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey });

describe('principals, tenants and planes', () => {
  let t: TestServer;
  const call = (target: string, body: unknown, auth: Parameters<typeof callTarget>[3]) => callTarget(t.url, target, body, auth);
  beforeAll(async () => { t = await startTestServer(); });
  afterAll(async () => { await t?.close(); });

  it('a user principal uses keys (data plane) but cannot manage them (control plane)', async () => {
    const r = await call('Keyward.CreatePrincipal', { Name: 'app', Role: 'user' }, t.admin);
    expect(r.status).toBe(200);
    expect(r.body.Principal).toMatchObject({ Name: 'app', Role: 'user', Tenant: 'default' });
    const user = t.client(sdk(r.body.Credentials as Creds));
    const key = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const enc = await user.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') }));
    expect((await user.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }))).KeyId).toBe(key.Arn);
    expect((await user.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!.KeyId).toBe(key.KeyId);
    const denied = await errorOf(user.send(new CreateKeyCommand({})));
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.message).toContain('kms:CreateKey');
    expect((await call('Keyward.CreatePrincipal', { Name: 'x' }, { token: (r.body.Credentials as Creds).Token })).body.__type).toBe('AccessDeniedException');
  });

  it('bearer tokens authenticate; unknown, malformed and deleted credentials do not', async () => {
    const r = await call('Keyward.CreatePrincipal', { Name: 'temp', Role: 'user' }, t.admin);
    const creds = r.body.Credentials as Creds;
    expect((await call('Keyward.GetCallerIdentity', {}, { token: creds.Token })).body).toMatchObject({ Name: 'temp', Tenant: 'default', Role: 'user' });
    expect((await call('Keyward.GetCallerIdentity', {}, { token: `${creds.Token.slice(0, -1)}${creds.Token.endsWith('A') ? 'B' : 'A'}` })).body.__type).toBe('UnrecognizedClientException');
    expect((await call('Keyward.GetCallerIdentity', {}, { token: 'garbage' })).body.__type).toBe('UnrecognizedClientException');
    expect((await call('Keyward.GetCallerIdentity', {}, { accessKeyId: creds.AccessKeyId, secretAccessKey: 'wrong-secret' })).body.__type).toBe('InvalidSignatureException');
    expect((await call('Keyward.GetCallerIdentity', {}, { accessKeyId: 'KWNOSUCHKEY000000000', secretAccessKey: 'x' })).body.__type).toBe('UnrecognizedClientException');
    expect((await call('Keyward.DeletePrincipal', { Name: 'temp' }, t.admin)).status).toBe(200);
    expect((await call('Keyward.GetCallerIdentity', {}, { token: creds.Token })).body.__type).toBe('UnrecognizedClientException');
    expect((await call('Keyward.GetCallerIdentity', {}, sdk(creds))).body.__type).toBe('UnrecognizedClientException');
    const listed = await call('Keyward.ListPrincipals', {}, t.admin);
    const names = (listed.body.Principals as Array<{ Name: string }>).map((p) => p.Name);
    expect(names).toContain('admin');
    expect(names).not.toContain('temp');
    expect(JSON.stringify(listed.body)).not.toMatch(/Secret|Token/);
  });

  it('requests without credentials are MissingAuthenticationTokenException', async () => {
    const res = await fetch(`${t.url}/`, { method: 'POST', headers: { 'x-amz-target': 'TrentService.ListKeys', 'content-type': 'application/x-amz-json-1.1' }, body: '{}' });
    expect(res.status).toBe(403);
    expect((await res.json() as { __type: string }).__type).toBe('MissingAuthenticationTokenException');
  });

  it('tenants are isolated: another tenant neither sees nor uses nor decrypts', async () => {
    expect((await call('Keyward.CreateTenant', { TenantId: 'acme' }, t.admin)).status).toBe(200);
    const acmeAdmin = (await call('Keyward.CreatePrincipal', { Name: 'boss', Role: 'admin', Tenant: 'acme' }, t.admin)).body.Credentials as Creds;
    const acme = t.client(sdk(acmeAdmin));
    const mine = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const blob = (await t.kms.send(new EncryptCommand({ KeyId: mine.KeyId, Plaintext: Buffer.from('secret') }))).CiphertextBlob;
    const theirs = (await acme.send(new CreateKeyCommand({}))).KeyMetadata!;
    expect(theirs.AWSAccountId).not.toBe(mine.AWSAccountId);
    expect((await acme.send(new ListKeysCommand({}))).Keys!.map((k) => k.KeyId)).toEqual([theirs.KeyId]);
    // "does not exist" and "not yours" are the same answer
    const notYours = await errorOf(acme.send(new DescribeKeyCommand({ KeyId: mine.KeyId })));
    const missing = await errorOf(acme.send(new DescribeKeyCommand({ KeyId: '00000000-0000-4000-8000-000000000000' })));
    expect(notYours.name).toBe('NotFoundException');
    expect(missing.name).toBe('NotFoundException');
    expect((await errorOf(acme.send(new EncryptCommand({ KeyId: mine.Arn, Plaintext: Buffer.from('x') })))).name).toBe('NotFoundException');
    expect((await errorOf(acme.send(new DecryptCommand({ CiphertextBlob: blob })))).name).toBe('InvalidCiphertextException');
    // a tenant admin manages only its own tenant
    expect((await call('Keyward.CreateTenant', { TenantId: 'evil' }, { token: acmeAdmin.Token })).body.__type).toBe('AccessDeniedException');
    expect((await call('Keyward.CreatePrincipal', { Name: 'spy', Tenant: 'default' }, { token: acmeAdmin.Token })).body.__type).toBe('AccessDeniedException');
    expect((await call('Keyward.ListPrincipals', { Tenant: 'default' }, { token: acmeAdmin.Token })).body.__type).toBe('AccessDeniedException');
    expect((await call('Keyward.CreatePrincipal', { Name: 'helper', Role: 'user' }, { token: acmeAdmin.Token })).body.Principal).toMatchObject({ Tenant: 'acme' });
  });

  it('validates names and refuses duplicates', async () => {
    expect((await call('Keyward.CreateTenant', { TenantId: 'Bad_Name' }, t.admin)).body.__type).toBe('ValidationException');
    expect((await call('Keyward.CreateTenant', { TenantId: 'default' }, t.admin)).body.__type).toBe('AlreadyExistsException');
    expect((await call('Keyward.CreatePrincipal', { Name: 'admin' }, t.admin)).body.__type).toBe('AlreadyExistsException');
    expect((await call('Keyward.CreatePrincipal', { Name: 'bad name' }, t.admin)).body.__type).toBe('ValidationException');
    expect((await call('Keyward.CreatePrincipal', { Name: 'x', Role: 'root' }, t.admin)).body.__type).toBe('ValidationException');
    expect((await call('Keyward.CreatePrincipal', { Name: 'x', Tenant: 'nope' }, t.admin)).body.__type).toBe('NotFoundException');
    expect((await call('Keyward.DeletePrincipal', { Name: 'admin' }, t.admin)).body.__type).toBe('ValidationException');
    const tenants = await call('Keyward.ListTenants', {}, t.admin);
    expect((tenants.body.Tenants as Array<{ TenantId: string }>).map((x) => x.TenantId)).toContain('default');
  });
});
