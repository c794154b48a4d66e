import {
  CancelKeyDeletionCommand, CreateKeyCommand, DescribeKeyCommand, DisableKeyCommand, EnableKeyCommand, EncryptCommand,
  ListKeysCommand, ScheduleKeyDeletionCommand, UpdateKeyDescriptionCommand, DecryptCommand,
  GenerateDataKeyCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf } from '../../helpers/errors.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

describe('key lifecycle over the AWS protocol', () => {
  let t: TestServer;
  beforeAll(async () => { t = await startTestServer(); });
  afterAll(async () => { await t?.close(); });

  it('CreateKey returns AWS KeyMetadata with a tenant ARN', async () => {
    const r = await t.kms.send(new CreateKeyCommand({ Description: 'orders', Tags: [{ TagKey: 'team', TagValue: 'pay' }] }));
    const m = r.KeyMetadata!;
    expect(m.Arn).toBe(`arn:aws:kms:us-east-1:${m.AWSAccountId}:key/${m.KeyId}`);
    expect(m.AWSAccountId).toMatch(/^\d{12}$/);
    expect(m).toMatchObject({ Description: 'orders', Enabled: true, KeyState: 'Enabled', KeyUsage: 'ENCRYPT_DECRYPT', KeySpec: 'SYMMETRIC_DEFAULT', Origin: 'AWS_KMS', KeyManager: 'CUSTOMER', MultiRegion: false });
    expect(m.EncryptionAlgorithms).toEqual(['SYMMETRIC_DEFAULT']);
    expect(m.CreationDate).toBeInstanceOf(Date);
  });

  it('DescribeKey accepts key id, key ARN, alias name and alias ARN', async () => {
    const { KeyMetadata } = await t.kms.send(new CreateKeyCommand({}));
    const id = KeyMetadata!.KeyId!;
    const { CreateAliasCommand } = await import('@aws-sdk/client-kms');
    await t.kms.send(new CreateAliasCommand({ AliasName: 'alias/describe-me', TargetKeyId: id }));
    const aliasArn = `arn:aws:kms:us-east-1:${KeyMetadata!.AWSAccountId}:alias/describe-me`;
    for (const keyId of [id, KeyMetadata!.Arn!, 'alias/describe-me', aliasArn]) {
      const r = await t.kms.send(new DescribeKeyCommand({ KeyId: keyId }));
      expect(r.KeyMetadata!.KeyId).toBe(id);
    }
  });

  it('unknown keys, malformed ids and ARNs of other accounts or regions are NotFoundException', async () => {
    const { KeyMetadata } = await t.kms.send(new CreateKeyCommand({}));
    const otherAccount = KeyMetadata!.Arn!.replace(/:\d{12}:/, ':000000000000:');
    const otherRegion = KeyMetadata!.Arn!.replace('us-east-1', 'eu-west-1');
    for (const keyId of ['00000000-0000-4000-8000-000000000000', 'not-a-key', otherAccount, otherRegion, 'alias/none']) {
      expect((await errorOf(t.kms.send(new DescribeKeyCommand({ KeyId: keyId })))).name).toBe('NotFoundException');
    }
  });

  it('ListKeys pages with Limit and Marker', async () => {
    for (let i = 0; i < 5; i++) await t.kms.send(new CreateKeyCommand({}));
    const seen: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const r = await t.kms.send(new ListKeysCommand({ Limit: 2, ...(marker ? { Marker: marker } : {}) }));
      expect(r.Keys!.length).toBeLessThanOrEqual(2);
      seen.push(...r.Keys!.map((k) => k.KeyId!));
      marker = r.Truncated ? r.NextMarker : undefined;
      pages++;
    } while (marker);
    expect(pages).toBeGreaterThan(2);
    expect(new Set(seen).size).toBe(seen.length);
    const all = await t.kms.send(new ListKeysCommand({}));
    expect(all.Keys!.map((k) => k.KeyId).sort()).toEqual([...seen].sort());
    expect((await errorOf(t.kms.send(new ListKeysCommand({ Marker: 'bogus' })))).name).toBe('InvalidMarkerException');
  });

  it('UpdateKeyDescription changes the description', async () => {
    const { KeyMetadata } = await t.kms.send(new CreateKeyCommand({ Description: 'old' }));
    await t.kms.send(new UpdateKeyDescriptionCommand({ KeyId: KeyMetadata!.KeyId, Description: 'new' }));
    expect((await t.kms.send(new DescribeKeyCommand({ KeyId: KeyMetadata!.KeyId }))).KeyMetadata!.Description).toBe('new');
  });

  it('a disabled key refuses Encrypt, Decrypt and GenerateDataKey with DisabledException until enabled', async () => {
    const { KeyMetadata } = await t.kms.send(new CreateKeyCommand({}));
    const KeyId = KeyMetadata!.KeyId!;
    const enc = await t.kms.send(new EncryptCommand({ KeyId, Plaintext: Buffer.from('x') }));
    await t.kms.send(new DisableKeyCommand({ KeyId }));
    const d = await t.kms.send(new DescribeKeyCommand({ KeyId }));
    expect(d.KeyMetadata).toMatchObject({ Enabled: false, KeyState: 'Disabled' });
    expect((await errorOf(t.kms.send(new EncryptCommand({ KeyId, Plaintext: Buffer.from('x') })))).name).toBe('DisabledException');
    expect((await errorOf(t.kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })))).name).toBe('DisabledException');
    expect((await errorOf(t.kms.send(new GenerateDataKeyCommand({ KeyId, KeySpec: 'AES_256' })))).name).toBe('DisabledException');
    await t.kms.send(new EnableKeyCommand({ KeyId }));
    const dec = await t.kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
    expect(Buffer.from(dec.Plaintext!).toString()).toBe('x');
  });

  it('ScheduleKeyDeletion enforces the 7-30 day window (default 30) and blocks use while pending', async () => {
    const { KeyMetadata } = await t.kms.send(new CreateKeyCommand({}));
    const KeyId = KeyMetadata!.KeyId!;
    for (const days of [6, 31]) {
      expect((await errorOf(t.kms.send(new ScheduleKeyDeletionCommand({ KeyId, PendingWindowInDays: days })))).name).toBe('ValidationException');
    }
    const before = Date.now();
    const r = await t.kms.send(new ScheduleKeyDeletionCommand({ KeyId }));
    expect(r.KeyState).toBe('PendingDeletion');
    expect(r.PendingWindowInDays).toBe(30);
    expect(r.DeletionDate!.getTime()).toBeGreaterThanOrEqual(before + 30 * 86_400_000 - 1000);
    const d = await t.kms.send(new DescribeKeyCommand({ KeyId }));
    expect(d.KeyMetadata).toMatchObject({ KeyState: 'PendingDeletion', Enabled: false, PendingDeletionWindowInDays: 30 });
    expect((await errorOf(t.kms.send(new EncryptCommand({ KeyId, Plaintext: Buffer.from('x') })))).name).toBe('KMSInvalidStateException');
    expect((await errorOf(t.kms.send(new EnableKeyCommand({ KeyId })))).name).toBe('KMSInvalidStateException');
    expect((await errorOf(t.kms.send(new ScheduleKeyDeletionCommand({ KeyId })))).name).toBe('KMSInvalidStateException');
  });

  it('CancelKeyDeletion brings the key back disabled, with its material', async () => {
    const { KeyMetadata } = await t.kms.send(new CreateKeyCommand({}));
    const KeyId = KeyMetadata!.KeyId!;
    const enc = await t.kms.send(new EncryptCommand({ KeyId, Plaintext: Buffer.from('keep me') }));
    expect((await errorOf(t.kms.send(new CancelKeyDeletionCommand({ KeyId })))).name).toBe('KMSInvalidStateException');
    await t.kms.send(new ScheduleKeyDeletionCommand({ KeyId, PendingWindowInDays: 7 }));
    const c = await t.kms.send(new CancelKeyDeletionCommand({ KeyId }));
    expect(c.KeyId).toBe(KeyMetadata!.Arn);
    expect((await t.kms.send(new DescribeKeyCommand({ KeyId }))).KeyMetadata).toMatchObject({ KeyState: 'Disabled' });
    await t.kms.send(new EnableKeyCommand({ KeyId }));
    expect(Buffer.from((await t.kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }))).Plaintext!).toString()).toBe('keep me');
  });

  it('a key past its window is deleted with its material: NotFound, and its ciphertexts are gone', async () => {
    const { KeyMetadata } = await t.kms.send(new CreateKeyCommand({}));
    const KeyId = KeyMetadata!.KeyId!;
    const enc = await t.kms.send(new EncryptCommand({ KeyId, Plaintext: Buffer.from('doomed') }));
    const { CreateAliasCommand, ListAliasesCommand } = await import('@aws-sdk/client-kms');
    await t.kms.send(new CreateAliasCommand({ AliasName: 'alias/doomed', TargetKeyId: KeyId }));
    await t.kms.send(new ScheduleKeyDeletionCommand({ KeyId, PendingWindowInDays: 7 }));
    t.advanceDays(6);
    expect((await t.kms.send(new DescribeKeyCommand({ KeyId }))).KeyMetadata!.KeyState).toBe('PendingDeletion');
    t.advanceDays(1.01);
    const report = await t.server.installation.keyring.scheduler.tick();
    expect(report.deleted).toBeGreaterThanOrEqual(1);
    expect((await errorOf(t.kms.send(new DescribeKeyCommand({ KeyId })))).name).toBe('NotFoundException');
    expect((await errorOf(t.kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })))).name).toBe('InvalidCiphertextException');
    const aliases = await t.kms.send(new ListAliasesCommand({}));
    expect(aliases.Aliases!.map((a) => a.AliasName)).not.toContain('alias/doomed');
    const listed = await t.kms.send(new ListKeysCommand({ Limit: 1000 }));
    expect(listed.Keys!.map((k) => k.KeyId)).not.toContain(KeyId);
    // the material record is gone from the store itself, not merely hidden
    const { entries } = await t.server.installation.store.list(`material/default/${KeyId}/`);
    expect(entries).toHaveLength(0);
  });

  it('CreateKey refuses what Keyward does not support, clearly', async () => {
    for (const input of [{ KeySpec: 'SM2' as const }, { KeySpec: 'ML_KEM_768' as const, KeyUsage: 'ENCAPSULATE_DECAPSULATE' as const }, { Origin: 'AWS_CLOUDHSM' as const }, { MultiRegion: true }]) {
      expect((await errorOf(t.kms.send(new CreateKeyCommand(input)))).name).toBe('UnsupportedOperationException');
    }
    // a valid spec with a usage it does not have is the caller's mistake
    expect((await errorOf(t.kms.send(new CreateKeyCommand({ KeyUsage: 'SIGN_VERIFY' })))).name).toBe('ValidationException');
    expect((await errorOf(t.kms.send(new CreateKeyCommand({ Description: 'x'.repeat(8193) })))).name).toBe('ValidationException');
  });
});
