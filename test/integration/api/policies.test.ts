import {
  CreateAliasCommand, CreateGrantCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EnableKeyCommand, EncryptCommand,
  GenerateDataKeyCommand, GetKeyPolicyCommand, ListGrantsCommand, ListKeyPoliciesCommand, ListRetirableGrantsCommand, PutKeyPolicyCommand,
  ReEncryptCommand, RetireGrantCommand, RevokeGrantCommand, RotateKeyOnDemandCommand, ScheduleKeyDeletionCommand, UpdateAliasCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf } from '../../helpers/errors.js';
import { callTarget } from '../../helpers/keyward-api.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

interface Creds { AccessKeyId: string; SecretAccessKey: string; Token: string }
const text = (s: string) => new TextEncoder().encode(s);

describe('key policies and grants (AWS SDK)', () => {
  let t: TestServer;
  let account: string;
  const users: Record<string, KMSClient> = {};
  const arn = (name: string) => `arn:aws:iam::${account}:user/${name}`;
  const adminStatement = () => ({ Sid: 'admin', Effect: 'Allow', Principal: { AWS: arn('admin') }, Action: 'kms:*', Resource: '*' });
  const rootStatement = () => ({ Sid: 'root', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'kms:*', Resource: '*' });
  const policy = (...statements: unknown[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });
  const newKey = async (p?: string) => (await t.kms.send(new CreateKeyCommand(p === undefined ? {} : { Policy: p }))).KeyMetadata!;

  beforeAll(async () => {
    t = await startTestServer();
    account = (await callTarget(t.url, 'Keyward.GetCallerIdentity', {}, t.admin)).body.Account as string;
    for (const name of ['alice', 'bob', 'carol', 'dave']) {
      const r = await callTarget(t.url, 'Keyward.CreatePrincipal', { Name: name, Role: 'user' }, t.admin);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      const c = r.body.Credentials as Creds;
      users[name] = t.client({ accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey });
    }
  }, 120_000);
  afterAll(async () => { await t?.close(); });

  it('a key starts with the default policy: the account root, so roles decide as before', async () => {
    const key = await newKey();
    const got = await t.kms.send(new GetKeyPolicyCommand({ KeyId: key.KeyId, PolicyName: 'default' }));
    expect(got.PolicyName).toBe('default');
    expect(JSON.parse(got.Policy!)).toMatchObject({ Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'kms:*', Resource: '*' }] });
    expect((await t.kms.send(new ListKeyPoliciesCommand({ KeyId: key.KeyId }))).PolicyNames).toEqual(['default']);
    const blob = (await users.alice!.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: text('x') }))).CiphertextBlob;
    expect((await users.bob!.send(new DecryptCommand({ CiphertextBlob: blob }))).KeyId).toBe(key.Arn);
  });

  it('a Deny on kms:Decrypt for one principal: that principal cannot decrypt, others can, Encrypt still works', async () => {
    const key = await newKey();
    await t.kms.send(new PutKeyPolicyCommand({
      KeyId: key.KeyId,
      Policy: policy(rootStatement(), { Sid: 'no-decrypt', Effect: 'Deny', Principal: { AWS: arn('alice') }, Action: 'kms:Decrypt', Resource: '*' }),
    }));
    const blob = (await users.alice!.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: text('secret') }))).CiphertextBlob;
    const denied = await errorOf(users.alice!.send(new DecryptCommand({ CiphertextBlob: blob })));
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.message).toBe(`User: ${arn('alice')} is not authorized to perform: kms:Decrypt on resource: ${key.Arn} with an explicit deny in a resource-based policy`);
    expect(new TextDecoder().decode((await users.bob!.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext)).toBe('secret');
    // ReEncrypt asks ReEncryptFrom, not Decrypt: the deny does not cover it (as in AWS)
    expect((await users.alice!.send(new ReEncryptCommand({ CiphertextBlob: blob, DestinationKeyId: key.KeyId }))).KeyId).toBe(key.Arn);
  });

  it('an encryption-context condition: Decrypt only with purpose=billing', async () => {
    const key = await newKey();
    await t.kms.send(new PutKeyPolicyCommand({
      KeyId: key.KeyId,
      Policy: policy(adminStatement(), {
        Sid: 'carol-billing', Effect: 'Allow', Principal: { AWS: arn('carol') }, Action: ['kms:Encrypt', 'kms:Decrypt'], Resource: '*',
        Condition: { StringEquals: { 'kms:EncryptionContext:purpose': 'billing' } },
      }),
    }));
    const ok = (await users.carol!.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: text('b'), EncryptionContext: { purpose: 'billing' } }))).CiphertextBlob;
    expect((await users.carol!.send(new DecryptCommand({ CiphertextBlob: ok, EncryptionContext: { purpose: 'billing' } }))).KeyId).toBe(key.Arn);
    expect((await errorOf(users.carol!.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: text('b'), EncryptionContext: { purpose: 'hr' } })))).name).toBe('AccessDeniedException');
    expect((await errorOf(users.carol!.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: text('b') })))).name).toBe('AccessDeniedException');
    // without the account root statement, a principal the policy does not name has no access, whatever its role
    expect((await errorOf(users.bob!.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: text('b'), EncryptionContext: { purpose: 'billing' } })))).name).toBe('AccessDeniedException');
    expect((await errorOf(users.bob!.send(new DescribeKeyCommand({ KeyId: key.KeyId })))).name).toBe('AccessDeniedException');
  });

  it('a policy outside the subset or not JSON is MalformedPolicyDocumentException and changes nothing', async () => {
    const key = await newKey();
    const before = (await t.kms.send(new GetKeyPolicyCommand({ KeyId: key.KeyId }))).Policy;
    const bad = [
      '{not json',
      policy({ Effect: 'Allow', NotPrincipal: { AWS: arn('admin') }, Action: 'kms:*', Resource: '*' }),
      policy({ Effect: 'Allow', Principal: { Service: 's3.amazonaws.com' }, Action: 'kms:*', Resource: '*' }),
      policy({ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*', Condition: { DateGreaterThan: { 'aws:CurrentTime': '2020-01-01T00:00:00Z' } } }),
      policy({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: '*' }),
      policy({ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Resource: '*', Condition: { StringEquals: { 'aws:SourceIp': '10.0.0.1' } } }),
      policy(rootStatement(), { Effect: 'Maybe', Principal: '*', Action: 'kms:Decrypt', Resource: '*' }),
    ];
    for (const p of bad) {
      const e = await errorOf(t.kms.send(new PutKeyPolicyCommand({ KeyId: key.KeyId, Policy: p })));
      expect(e.name, p).toBe('MalformedPolicyDocumentException');
    }
    expect((await errorOf(t.kms.send(new CreateKeyCommand({ Policy: bad[1] })))).name).toBe('MalformedPolicyDocumentException');
    expect((await t.kms.send(new GetKeyPolicyCommand({ KeyId: key.KeyId }))).Policy).toBe(before);
  });

  it('the lockout safety check refuses a policy that locks the caller out, unless bypassed', async () => {
    const key = await newKey();
    const lockout = policy({ Effect: 'Allow', Principal: { AWS: arn('alice') }, Action: 'kms:*', Resource: '*' });
    const e = await errorOf(t.kms.send(new PutKeyPolicyCommand({ KeyId: key.KeyId, Policy: lockout })));
    expect(e.name).toBe('MalformedPolicyDocumentException');
    expect(e.message).toBe('The new key policy will not allow you to update the key policy in the future.');
    expect((await errorOf(t.kms.send(new CreateKeyCommand({ Policy: lockout })))).name).toBe('MalformedPolicyDocumentException');
    await t.kms.send(new PutKeyPolicyCommand({ KeyId: key.KeyId, Policy: lockout, BypassPolicyLockoutSafetyCheck: true }));
    expect((await errorOf(t.kms.send(new PutKeyPolicyCommand({ KeyId: key.KeyId, Policy: policy(rootStatement()) })))).name).toBe('AccessDeniedException');
    // a new key with a policy given at creation uses it at once
    const created = await newKey(policy(adminStatement()));
    expect((await errorOf(users.alice!.send(new EncryptCommand({ KeyId: created.KeyId, Plaintext: text('x') })))).name).toBe('AccessDeniedException');
  });

  it('principals of another tenant named in a policy never gain access', async () => {
    expect((await callTarget(t.url, 'Keyward.CreateTenant', { TenantId: 'other' }, t.admin)).status).toBe(200);
    const r = await callTarget(t.url, 'Keyward.CreatePrincipal', { Name: 'mallory', Role: 'admin', Tenant: 'other' }, t.admin);
    const c = r.body.Credentials as Creds;
    const mallory = t.client({ accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey });
    const otherAccount = (await callTarget(t.url, 'Keyward.GetCallerIdentity', {}, { token: c.Token })).body.Account as string;
    expect(otherAccount).not.toBe(account);
    const key = await newKey(policy(
      rootStatement(),
      { Effect: 'Allow', Principal: { AWS: [`arn:aws:iam::${otherAccount}:user/mallory`, `arn:aws:iam::${otherAccount}:root`, otherAccount] }, Action: 'kms:*', Resource: '*' },
      { Effect: 'Allow', Principal: '*', Action: ['kms:Decrypt', 'kms:DescribeKey'], Resource: '*' },
    ));
    const blob = (await t.kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: text('mine') }))).CiphertextBlob;
    for (const call of [
      mallory.send(new DescribeKeyCommand({ KeyId: key.Arn })),
      mallory.send(new EncryptCommand({ KeyId: key.Arn, Plaintext: text('x') })),
      mallory.send(new GetKeyPolicyCommand({ KeyId: key.Arn })),
    ]) expect((await errorOf(call)).name).toBe('NotFoundException');
    expect((await errorOf(mallory.send(new DecryptCommand({ CiphertextBlob: blob })))).name).toBe('InvalidCiphertextException');
    // a grant to the other tenant's principal is no way in either
    const g = await t.kms.send(new CreateGrantCommand({ KeyId: key.KeyId, GranteePrincipal: `arn:aws:iam::${otherAccount}:user/mallory`, Operations: ['Decrypt', 'Encrypt'] }));
    expect((await errorOf(mallory.send(new EncryptCommand({ KeyId: key.Arn, Plaintext: text('x'), GrantTokens: [g.GrantToken!] })))).name).toBe('NotFoundException');
  });

  it('a grant with constraints: usable at once with its token, only within its encryption context, until retired', async () => {
    const key = await newKey(policy(adminStatement()));
    expect((await errorOf(users.dave!.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: text('x'), EncryptionContext: { team: 'a' } })))).name).toBe('AccessDeniedException');
    const g = await t.kms.send(new CreateGrantCommand({
      KeyId: key.KeyId, GranteePrincipal: arn('dave'), RetiringPrincipal: arn('carol'), Operations: ['Encrypt', 'Decrypt', 'GenerateDataKey'],
      Constraints: { EncryptionContextSubset: { team: 'a' } }, Name: 'dave-team-a',
    }));
    expect(g.GrantId).toMatch(/^[0-9a-f]{64}$/);
    // the same Name and parameters again: the same grant, not a second one
    const again = await t.kms.send(new CreateGrantCommand({
      KeyId: key.KeyId, GranteePrincipal: arn('dave'), RetiringPrincipal: arn('carol'), Operations: ['Encrypt', 'Decrypt', 'GenerateDataKey'],
      Constraints: { EncryptionContextSubset: { team: 'a' } }, Name: 'dave-team-a',
    }));
    expect(again.GrantId).toBe(g.GrantId);
    const blob = (await users.dave!.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: text('x'), EncryptionContext: { team: 'a', extra: '1' }, GrantTokens: [g.GrantToken!] }))).CiphertextBlob;
    expect((await users.dave!.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { team: 'a', extra: '1' } }))).KeyId).toBe(key.Arn);
    expect((await users.dave!.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, KeySpec: 'AES_256', EncryptionContext: { team: 'a' } }))).KeyId).toBe(key.Arn);
    expect((await errorOf(users.dave!.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: text('x'), EncryptionContext: { team: 'b' } })))).name).toBe('AccessDeniedException');
    expect((await errorOf(users.dave!.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: text('x') })))).name).toBe('AccessDeniedException');
    expect((await errorOf(users.dave!.send(new DescribeKeyCommand({ KeyId: key.KeyId })))).name).toBe('AccessDeniedException');
    const listed = await t.kms.send(new ListGrantsCommand({ KeyId: key.KeyId }));
    expect(listed.Grants).toHaveLength(1);
    expect(listed.Grants![0]).toMatchObject({
      KeyId: key.Arn, GrantId: g.GrantId, Name: 'dave-team-a', GranteePrincipal: arn('dave'), RetiringPrincipal: arn('carol'),
      IssuingAccount: `arn:aws:iam::${account}:root`, Operations: ['Encrypt', 'Decrypt', 'GenerateDataKey'], Constraints: { EncryptionContextSubset: { team: 'a' } },
    });
    expect((await users.carol!.send(new ListRetirableGrantsCommand({ RetiringPrincipal: arn('carol') }))).Grants!.map((x) => x.GrantId)).toEqual([g.GrantId]);
    expect((await errorOf(users.bob!.send(new RetireGrantCommand({ GrantToken: g.GrantToken })))).name).toBe('AccessDeniedException');
    await users.carol!.send(new RetireGrantCommand({ GrantToken: g.GrantToken }));
    expect((await errorOf(users.dave!.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: text('x'), EncryptionContext: { team: 'a' }, GrantTokens: [g.GrantToken!] })))).name).toBe('AccessDeniedException');
    expect((await t.kms.send(new ListGrantsCommand({ KeyId: key.KeyId }))).Grants).toEqual([]);
  });

  it('grants: a user role cannot create grants by default; RevokeGrant; malformed ids and tokens; constraints only on symmetric keys', async () => {
    const key = await newKey();
    expect((await errorOf(users.alice!.send(new CreateGrantCommand({ KeyId: key.KeyId, GranteePrincipal: arn('bob'), Operations: ['Decrypt'] })))).name).toBe('AccessDeniedException');
    const g = await t.kms.send(new CreateGrantCommand({ KeyId: key.KeyId, GranteePrincipal: arn('bob'), Operations: ['Decrypt', 'CreateGrant'] }));
    // bob's grant lets him grant on, but never more than he has
    expect((await users.bob!.send(new CreateGrantCommand({ KeyId: key.KeyId, GranteePrincipal: arn('carol'), Operations: ['Decrypt'] }))).GrantId).toMatch(/^[0-9a-f]{64}$/);
    expect((await errorOf(users.bob!.send(new CreateGrantCommand({ KeyId: key.KeyId, GranteePrincipal: arn('carol'), Operations: ['Encrypt'] })))).name).toBe('AccessDeniedException');
    await t.kms.send(new RevokeGrantCommand({ KeyId: key.KeyId, GrantId: g.GrantId }));
    expect((await errorOf(t.kms.send(new RevokeGrantCommand({ KeyId: key.KeyId, GrantId: g.GrantId })))).name).toBe('NotFoundException');
    expect((await errorOf(t.kms.send(new RevokeGrantCommand({ KeyId: key.KeyId, GrantId: 'nope' })))).name).toBe('InvalidGrantIdException');
    const closed = await newKey(policy(adminStatement()));
    expect((await errorOf(users.dave!.send(new EncryptCommand({ KeyId: closed.KeyId, Plaintext: text('x'), GrantTokens: ['garbage'] })))).name).toBe('InvalidGrantTokenException');
    const e = await errorOf(t.kms.send(new CreateGrantCommand({ KeyId: key.KeyId, GranteePrincipal: arn('bob'), Operations: ['Decrypt', 'Fly' as never] })));
    expect(e.name).toBe('ValidationException');
    expect(e.message).toMatch(/^1 validation error detected: Value '\[Decrypt, Fly\]' at 'operations' failed to satisfy constraint: Member must satisfy constraint: \[Member must satisfy enum value set: \[Decrypt, Encrypt, /);
    const hmac = (await t.kms.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }))).KeyMetadata!;
    expect((await errorOf(t.kms.send(new CreateGrantCommand({ KeyId: hmac.KeyId, GranteePrincipal: arn('bob'), Operations: ['GenerateMac'], Constraints: { EncryptionContextEquals: { a: 'b' } } })))).name).toBe('ValidationException');
    expect((await errorOf(t.kms.send(new CreateGrantCommand({ KeyId: 'alias/whatever', GranteePrincipal: arn('bob'), Operations: ['Decrypt'] })))).name).toBe('NotFoundException');
  });

  it('AWS divergences: enum messages, KeySpec with CustomerMasterKeySpec, key-id-only operations, alias ARNs, RotateKeyOnDemand, unsupported operations', async () => {
    const e = await errorOf(t.kms.send(new CreateKeyCommand({ KeySpec: 'AES_999' as never })));
    expect(e.name).toBe('ValidationException');
    expect(e.message).toBe("1 validation error detected: Value 'AES_999' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1, SYMMETRIC_DEFAULT, HMAC_224, HMAC_256, HMAC_384, HMAC_512, SM2, ML_KEM_512, ML_KEM_768, ML_KEM_1024, ML_DSA_44, ML_DSA_65, ML_DSA_87, ECC_NIST_EDWARDS25519]");
    expect((await errorOf(t.kms.send(new CreateKeyCommand({ KeySpec: 'SM2' })))).name).toBe('UnsupportedOperationException');
    expect((await errorOf(t.kms.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', CustomerMasterKeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' })))).name).toBe('ValidationException');
    const empty = await errorOf(t.kms.send(new EncryptCommand({ KeyId: (await newKey()).KeyId, Plaintext: new Uint8Array(0) })));
    expect(empty.message).toContain("at 'plaintext'");
    const key = await newKey();
    await t.kms.send(new CreateAliasCommand({ AliasName: 'alias/policy-divergence', TargetKeyId: key.KeyId }));
    for (const call of [
      t.kms.send(new EnableKeyCommand({ KeyId: 'alias/policy-divergence' })),
      t.kms.send(new ScheduleKeyDeletionCommand({ KeyId: 'alias/policy-divergence' })),
      t.kms.send(new RotateKeyOnDemandCommand({ KeyId: 'alias/policy-divergence' })),
      t.kms.send(new PutKeyPolicyCommand({ KeyId: 'alias/policy-divergence', Policy: policy(rootStatement()) })),
    ]) {
      const err = await errorOf(call);
      expect(err.name).toBe('NotFoundException');
      expect(err.message).toBe('Invalid keyId alias/policy-divergence');
    }
    const aliasArn = `arn:aws:kms:us-east-1:${account}:alias/missing-one`;
    expect((await errorOf(t.kms.send(new UpdateAliasCommand({ AliasName: 'alias/missing-one', TargetKeyId: key.KeyId })))).message).toBe(`Alias ${aliasArn} is not found.`);
    expect((await errorOf(t.kms.send(new EncryptCommand({ KeyId: 'alias/missing-one', Plaintext: text('x') })))).message).toBe(`Alias ${aliasArn} is not found.`);
    expect((await errorOf(t.kms.send(new CreateAliasCommand({ AliasName: 'alias/policy-divergence', TargetKeyId: key.KeyId })))).message).toBe(`An alias with the name arn:aws:kms:us-east-1:${account}:alias/policy-divergence already exists`);
    expect((await t.kms.send(new RotateKeyOnDemandCommand({ KeyId: key.Arn }))).KeyId).toBe(key.KeyId);
    const unsupported = await callTarget(t.url, 'TrentService.CreateCustomKeyStore', { CustomKeyStoreName: 'x' }, t.admin);
    expect(unsupported.body.__type).toBe('UnsupportedOperationException');
    expect((await callTarget(t.url, 'TrentService.ReplicateKey', { KeyId: key.KeyId, ReplicaRegion: 'eu-west-1' }, t.admin)).body.__type).toBe('UnsupportedOperationException');
    expect((await callTarget(t.url, 'TrentService.MakeCoffee', {}, t.admin)).body.__type).toBe('UnknownOperationException');
  });
});
