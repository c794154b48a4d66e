import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTarget } from '../../helpers/keyward-api.js';
import { grpc, grpcClient, grpcFailure, loadProto, type GrpcClient } from '../../helpers/grpc.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

const pkg = loadProto(['keyward/v1/keys.proto', 'keyward/v1/audit.proto', 'keyward/v1/kms.proto']);

describe('gRPC Keys and Audit services', () => {
  let t: TestServer;
  let keys: GrpcClient;
  let audit: GrpcClient;
  let userToken: string;

  beforeAll(async () => {
    t = await startTestServer({ config: { grpcListen: '127.0.0.1:0' } });
    keys = grpcClient(pkg, 'keyward.v1.Keys', t.server.grpcAddress!, { token: t.admin.token });
    audit = grpcClient(pkg, 'keyward.v1.Audit', t.server.grpcAddress!, { token: t.admin.token });
    const user = await callTarget(t.url, 'Keyward.CreatePrincipal', { Name: 'app', Role: 'user' }, { token: t.admin.token });
    userToken = String((user.body.Credentials as Record<string, unknown>).Token);
  });
  afterAll(async () => {
    keys?.close();
    audit?.close();
    await t?.close();
  });

  it('serves every Keys RPC', async () => {
    const created = await keys.CreateKey!({ description: 'orders', tags: [{ tag_key: 'team', tag_value: 'billing' }, { tag_key: 'empty', tag_value: '' }] });
    const meta = created.key_metadata as Record<string, unknown>;
    expect(meta).toMatchObject({ description: 'orders', key_state: 'Enabled', key_spec: 'SYMMETRIC_DEFAULT', enabled: true, encryption_algorithms: ['SYMMETRIC_DEFAULT'] });
    expect(String(meta.aws_account_id)).toMatch(/^\d{12}$/);
    expect(Number(meta.creation_date)).toBeGreaterThan(1_600_000_000);
    const id = String(meta.key_id);

    expect((await keys.DescribeKey!({ key_id: id })).key_metadata).toMatchObject({ key_id: id, arn: meta.arn });
    const listed = await keys.ListKeys!({ limit: 100 });
    expect((listed.keys as Array<Record<string, unknown>>).map((k) => k.key_id)).toContain(id);
    await keys.UpdateKeyDescription!({ key_id: id, description: 'orders v2' });
    expect(((await keys.DescribeKey!({ key_id: id })).key_metadata as Record<string, unknown>).description).toBe('orders v2');

    await keys.CreateAlias!({ alias_name: 'alias/orders', target_key_id: id });
    const aliases = (await keys.ListAliases!({ key_id: id })).aliases as Array<Record<string, unknown>>;
    expect(aliases.map((a) => a.alias_name)).toEqual(['alias/orders']);
    const other = String(((await keys.CreateKey!({})).key_metadata as Record<string, unknown>).key_id);
    await keys.UpdateAlias!({ alias_name: 'alias/orders', target_key_id: other });
    expect(((await keys.DescribeKey!({ key_id: 'alias/orders' })).key_metadata as Record<string, unknown>).key_id).toBe(other);
    await keys.DeleteAlias!({ alias_name: 'alias/orders' });
    expect((await grpcFailure(keys.DescribeKey!({ key_id: 'alias/orders' }))).code).toBe(grpc.status.NOT_FOUND);

    await keys.TagResource!({ key_id: id, tags: [{ tag_key: 'env', tag_value: 'prod' }] });
    await keys.UntagResource!({ key_id: id, tag_keys: ['team'] });
    const tags = (await keys.ListResourceTags!({ key_id: id })).tags as Array<Record<string, unknown>>;
    expect(tags.map((x) => [x.tag_key, x.tag_value ?? ''])).toEqual([['empty', ''], ['env', 'prod']]);

    await keys.EnableKeyRotation!({ key_id: id, rotation_period_in_days: 90 });
    expect(await keys.GetKeyRotationStatus!({ key_id: id })).toMatchObject({ key_rotation_enabled: true, rotation_period_in_days: 90 });
    await keys.DisableKeyRotation!({ key_id: id });
    expect((await keys.GetKeyRotationStatus!({ key_id: id })).key_rotation_enabled).toBe(false);
    expect((await keys.RotateKeyOnDemand!({ key_id: id })).key_id).toBe(id); // the key id, as AWS answers
    const rotations = (await keys.ListKeyRotations!({ key_id: id })).rotations as Array<Record<string, unknown>>;
    expect(rotations.map((r) => r.rotation_type)).toEqual(['ON_DEMAND']);
    const versions = await keys.ListKeyVersions!({ key_id: id });
    expect(versions.primary_version).toBe(2);
    expect((versions.versions as Array<Record<string, unknown>>).map((v) => [v.version, v.state, v.primary ?? false])).toEqual([[1, 'Enabled', false], [2, 'Enabled', true]]);
    expect(await keys.DisableKeyVersion!({ key_id: id, version: 1 })).toMatchObject({ version: 1, state: 'Disabled' });
    expect(await keys.EnableKeyVersion!({ key_id: id, version: 1 })).toMatchObject({ state: 'Enabled' });
    expect(await keys.DestroyKeyVersion!({ key_id: id, version: 1 })).toMatchObject({ state: 'Destroyed' });
    expect((await grpcFailure(keys.DestroyKeyVersion!({ key_id: id, version: 2 }))).details).toMatch(/^KMSInvalidStateException: .*primary/);

    await keys.DisableKey!({ key_id: id });
    expect(((await keys.DescribeKey!({ key_id: id })).key_metadata as Record<string, unknown>).key_state).toBe('Disabled');
    await keys.EnableKey!({ key_id: id });
    const scheduled = await keys.ScheduleKeyDeletion!({ key_id: id, pending_window_in_days: 7 });
    expect(scheduled).toMatchObject({ key_state: 'PendingDeletion', pending_window_in_days: 7 });
    expect((await keys.CancelKeyDeletion!({ key_id: id })).key_id).toBe(meta.arn);
    const range = await grpcFailure(keys.ScheduleKeyDeletion!({ key_id: id, pending_window_in_days: 3 }));
    expect(range.details).toMatch(/^ValidationException: .*'pendingWindowInDays'/);
  });

  it('keeps the data plane from the control plane', async () => {
    const asUser = grpcClient(pkg, 'keyward.v1.Keys', t.server.grpcAddress!, { token: userToken });
    try {
      const e = await grpcFailure(asUser.CreateKey!({ description: 'not mine to make' }));
      expect(e.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(e.details).toMatch(/^AccessDeniedException: .*kms:CreateKey/);
      expect((await asUser.ListKeys!({})).keys).toBeDefined();
    } finally {
      asUser.close();
    }
    const auditAsUser = grpcClient(pkg, 'keyward.v1.Audit', t.server.grpcAddress!, { token: userToken });
    try {
      expect((await grpcFailure(auditAsUser.ListAuditRecords!({}))).code).toBe(grpc.status.PERMISSION_DENIED);
    } finally {
      auditAsUser.close();
    }
  });

  it('lists and verifies the audit log', async () => {
    const page = await audit.ListAuditRecords!({ op: 'CreateKey', limit: 10 });
    const records = page.records as Array<Record<string, unknown>>;
    expect(records.length).toBeGreaterThan(0);
    expect(records[0]).toMatchObject({ op: 'CreateKey', result: 'OK', tenant: 'default', transport: 'grpc' });
    expect(String(records[0]!.hash)).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.keys(records[0]!.request as object).some((k) => k === 'Description')).toBe(true);
    const byTenant = await audit.ListAuditRecords!({ tenant: 'nobody-here', limit: 10 });
    expect(byTenant.records ?? []).toEqual([]);
    const tail = await audit.ListAuditRecords!({ tail: 3 });
    expect((tail.records as unknown[]).length).toBe(3);
    const report = await audit.VerifyAudit!({});
    expect(report.ok).toBe(true);
    expect((report.chains as Array<Record<string, unknown>>)[0]).toMatchObject({ ok: true, signatures_checked: true });
  });
});
