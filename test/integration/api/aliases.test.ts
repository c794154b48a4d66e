import { CreateAliasCommand, CreateKeyCommand, DeleteAliasCommand, EncryptCommand, ListAliasesCommand, ScheduleKeyDeletionCommand, UpdateAliasCommand, DecryptCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf } from '../../helpers/errors.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

describe('aliases', () => {
  let t: TestServer;
  let a: { id: string; arn: string; account: string };
  let b: { id: string; arn: string };
  beforeAll(async () => {
    t = await startTestServer();
    const ka = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const kb = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    a = { id: ka.KeyId!, arn: ka.Arn!, account: ka.AWSAccountId! };
    b = { id: kb.KeyId!, arn: kb.Arn! };
  });
  afterAll(async () => { await t?.close(); });

  it('an alias names a key for every data operation and moves with UpdateAlias', async () => {
    await t.kms.send(new CreateAliasCommand({ AliasName: 'alias/app/orders', TargetKeyId: a.id }));
    const e1 = await t.kms.send(new EncryptCommand({ KeyId: 'alias/app/orders', Plaintext: Buffer.from('1') }));
    expect(e1.KeyId).toBe(a.arn);
    await t.kms.send(new UpdateAliasCommand({ AliasName: 'alias/app/orders', TargetKeyId: b.arn }));
    const e2 = await t.kms.send(new EncryptCommand({ KeyId: `arn:aws:kms:us-east-1:${a.account}:alias/app/orders`, Plaintext: Buffer.from('2') }));
    expect(e2.KeyId).toBe(b.arn);
    // older ciphertexts still decrypt: they name their key, not the alias
    expect((await t.kms.send(new DecryptCommand({ CiphertextBlob: e1.CiphertextBlob }))).KeyId).toBe(a.arn);
  });

  it('ListAliases lists with ARNs and dates, filters by key, and pages', async () => {
    for (let i = 0; i < 5; i++) await t.kms.send(new CreateAliasCommand({ AliasName: `alias/page-${i}`, TargetKeyId: a.id }));
    const byKey = await t.kms.send(new ListAliasesCommand({ KeyId: a.arn }));
    expect(byKey.Aliases!.map((x) => x.AliasName).sort()).toEqual(['alias/page-0', 'alias/page-1', 'alias/page-2', 'alias/page-3', 'alias/page-4']);
    const one = byKey.Aliases![0]!;
    expect(one.AliasArn).toBe(`arn:aws:kms:us-east-1:${a.account}:${one.AliasName}`);
    expect(one.TargetKeyId).toBe(a.id);
    expect(one.CreationDate).toBeInstanceOf(Date);
    const names: string[] = [];
    let marker: string | undefined;
    do {
      const page = await t.kms.send(new ListAliasesCommand({ KeyId: a.id, Limit: 2, ...(marker ? { Marker: marker } : {}) }));
      expect(page.Aliases!.length).toBeLessThanOrEqual(2);
      names.push(...page.Aliases!.map((x) => x.AliasName!));
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker);
    expect(names.sort()).toEqual(byKey.Aliases!.map((x) => x.AliasName).sort());
  });

  it('refuses duplicates, bad names, reserved names, alias targets and unknown aliases', async () => {
    await t.kms.send(new CreateAliasCommand({ AliasName: 'alias/dup', TargetKeyId: a.id }));
    expect((await errorOf(t.kms.send(new CreateAliasCommand({ AliasName: 'alias/dup', TargetKeyId: b.id })))).name).toBe('AlreadyExistsException');
    expect((await errorOf(t.kms.send(new CreateAliasCommand({ AliasName: 'no-prefix', TargetKeyId: a.id })))).name).toBe('ValidationException');
    expect((await errorOf(t.kms.send(new CreateAliasCommand({ AliasName: 'alias/has space', TargetKeyId: a.id })))).name).toBe('ValidationException');
    expect((await errorOf(t.kms.send(new CreateAliasCommand({ AliasName: 'alias/aws/s3', TargetKeyId: a.id })))).name).toBe('InvalidAliasNameException');
    expect((await errorOf(t.kms.send(new CreateAliasCommand({ AliasName: 'alias/x', TargetKeyId: 'alias/dup' })))).name).toBe('ValidationException');
    expect((await errorOf(t.kms.send(new UpdateAliasCommand({ AliasName: 'alias/missing', TargetKeyId: a.id })))).name).toBe('NotFoundException');
    expect((await errorOf(t.kms.send(new DeleteAliasCommand({ AliasName: 'alias/missing' })))).name).toBe('NotFoundException');
    expect((await errorOf(t.kms.send(new EncryptCommand({ KeyId: 'alias/missing', Plaintext: Buffer.from('x') })))).name).toBe('NotFoundException');
  });

  it('DeleteAlias removes the name, not the key', async () => {
    await t.kms.send(new CreateAliasCommand({ AliasName: 'alias/temp', TargetKeyId: b.id }));
    await t.kms.send(new DeleteAliasCommand({ AliasName: 'alias/temp' }));
    expect((await errorOf(t.kms.send(new EncryptCommand({ KeyId: 'alias/temp', Plaintext: Buffer.from('x') })))).name).toBe('NotFoundException');
    expect((await t.kms.send(new EncryptCommand({ KeyId: b.id, Plaintext: Buffer.from('x') }))).KeyId).toBe(b.arn);
  });

  it('an alias cannot point at a key pending deletion', async () => {
    const k = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    await t.kms.send(new ScheduleKeyDeletionCommand({ KeyId: k.KeyId, PendingWindowInDays: 7 }));
    expect((await errorOf(t.kms.send(new CreateAliasCommand({ AliasName: 'alias/pending', TargetKeyId: k.KeyId })))).name).toBe('KMSInvalidStateException');
  });
});
