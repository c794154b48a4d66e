import { CreateKeyCommand, DecryptCommand, EncryptCommand, ListResourceTagsCommand, RotateKeyOnDemandCommand, TagResourceCommand, UntagResourceCommand, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf } from '../../helpers/errors.js';
import { callTarget } from '../../helpers/keyward-api.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

describe('tags', () => {
  let t: TestServer;
  beforeAll(async () => { t = await startTestServer(); });
  afterAll(async () => { await t?.close(); });

  it('TagResource, UntagResource and ListResourceTags (paged), with AWS limits', async () => {
    const k = (await t.kms.send(new CreateKeyCommand({ Tags: [{ TagKey: 'env', TagValue: 'prod' }] }))).KeyMetadata!;
    await t.kms.send(new TagResourceCommand({ KeyId: k.KeyId, Tags: [{ TagKey: 'team', TagValue: 'a' }, { TagKey: 'env', TagValue: 'stage' }] }));
    expect((await t.kms.send(new ListResourceTagsCommand({ KeyId: k.KeyId }))).Tags).toEqual([{ TagKey: 'env', TagValue: 'stage' }, { TagKey: 'team', TagValue: 'a' }]);
    const first = await t.kms.send(new ListResourceTagsCommand({ KeyId: k.KeyId, Limit: 1 }));
    expect(first.Tags).toEqual([{ TagKey: 'env', TagValue: 'stage' }]);
    expect(first.Truncated).toBe(true);
    const second = await t.kms.send(new ListResourceTagsCommand({ KeyId: k.KeyId, Limit: 1, Marker: first.NextMarker }));
    expect(second.Tags).toEqual([{ TagKey: 'team', TagValue: 'a' }]);
    await t.kms.send(new UntagResourceCommand({ KeyId: k.KeyId, TagKeys: ['env'] }));
    expect((await t.kms.send(new ListResourceTagsCommand({ KeyId: k.KeyId }))).Tags).toEqual([{ TagKey: 'team', TagValue: 'a' }]);
    expect((await errorOf(t.kms.send(new TagResourceCommand({ KeyId: k.KeyId, Tags: [{ TagKey: 'aws:x', TagValue: 'y' }] })))).name).toBe('TagException');
    expect((await errorOf(t.kms.send(new TagResourceCommand({ KeyId: k.KeyId, Tags: [{ TagKey: 'k'.repeat(129), TagValue: 'y' }] })))).name).toBe('ValidationException');
    const many = Array.from({ length: 50 }, (_, i) => ({ TagKey: `t${i}`, TagValue: 'v' }));
    expect((await errorOf(t.kms.send(new TagResourceCommand({ KeyId: k.KeyId, Tags: many })))).name).toBe('LimitExceededException');
    await t.kms.send(new ScheduleKeyDeletionCommand({ KeyId: k.KeyId, PendingWindowInDays: 7 }));
    expect((await errorOf(t.kms.send(new TagResourceCommand({ KeyId: k.KeyId, Tags: [{ TagKey: 'a', TagValue: 'b' }] })))).name).toBe('KMSInvalidStateException');
  });
});

describe('key versions (Keyward extensions)', () => {
  let t: TestServer;
  let call: (target: string, body: unknown) => ReturnType<typeof callTarget>;
  beforeAll(async () => {
    t = await startTestServer();
    call = (target, body) => callTarget(t.url, target, body, t.admin);
  });
  afterAll(async () => { await t?.close(); });

  it('ListKeyVersions, DisableKeyVersion, EnableKeyVersion, DestroyKeyVersion', async () => {
    const k = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const v1 = await t.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('one') }));
    await t.kms.send(new RotateKeyOnDemandCommand({ KeyId: k.KeyId }));
    const listed = await call('Keyward.ListKeyVersions', { KeyId: k.KeyId });
    expect(listed.status).toBe(200);
    expect(listed.body.PrimaryVersion).toBe(2);
    expect((listed.body.Versions as Array<Record<string, unknown>>).map((v) => [v.Version, v.State, v.Primary])).toEqual([[1, 'Enabled', false], [2, 'Enabled', true]]);

    expect((await call('Keyward.DisableKeyVersion', { KeyId: k.KeyId, Version: 2 })).body.__type).toBe('KMSInvalidStateException');
    expect((await call('Keyward.DisableKeyVersion', { KeyId: k.KeyId, Version: 1 })).body).toMatchObject({ Version: 1, State: 'Disabled' });
    expect((await errorOf(t.kms.send(new DecryptCommand({ CiphertextBlob: v1.CiphertextBlob })))).name).toBe('InvalidCiphertextException');
    await call('Keyward.EnableKeyVersion', { KeyId: k.KeyId, Version: 1 });
    expect(Buffer.from((await t.kms.send(new DecryptCommand({ CiphertextBlob: v1.CiphertextBlob }))).Plaintext!).toString()).toBe('one');

    expect((await call('Keyward.DestroyKeyVersion', { KeyId: k.KeyId, Version: 1 })).body).toMatchObject({ State: 'Destroyed' });
    expect((await errorOf(t.kms.send(new DecryptCommand({ CiphertextBlob: v1.CiphertextBlob })))).name).toBe('InvalidCiphertextException');
    expect((await call('Keyward.EnableKeyVersion', { KeyId: k.KeyId, Version: 1 })).body.__type).toBe('KMSInvalidStateException');
    const { entries } = await t.server.installation.store.list(`material/default/${k.KeyId}/`);
    expect(entries.map((e) => e.key)).toEqual([`material/default/${k.KeyId}/0000000002`]);
    expect((await call('Keyward.DestroyKeyVersion', { KeyId: k.KeyId, Version: 9 })).body.__type).toBe('NotFoundException');
    expect((await call('Keyward.DestroyKeyVersion', { KeyId: k.KeyId })).body.__type).toBe('ValidationException');
    const after = await call('Keyward.ListKeyVersions', { KeyId: k.KeyId });
    expect((after.body.Versions as Array<Record<string, unknown>>)[0]).toHaveProperty('DestructionDate');
  });
});
