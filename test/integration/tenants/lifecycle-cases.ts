import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { callTarget } from '../../helpers/keyward-api.js';
import { mentioning, type StoredText } from '../../helpers/store-scan.js';
import { eventually } from '../../helpers/wait.js';

/**
 * The tenant lifecycle, written once and run on every deployment shape: one node on SQLite (in
 * process, test clock) and two `keyward` processes on one PostgreSQL database (clock moved through
 * a test-only preload). Every request goes over HTTP to a real server.
 */
export interface TenantCluster {
  readonly urls: readonly string[];
  /** The system administrator (tenant `default`). */
  readonly admin: { readonly token: string };
  /** How far every node's clock has been moved; SigV4 requests are signed as of then. */
  readonly offsetMs: number;
  advanceDays(days: number): Promise<void>;
  /** Lets the nodes' schedulers run until the tenant is gone; answers how many nodes deleted it. */
  deleteDue(tenantId: string): Promise<number>;
  /** Every store entry but the audit log, decrypted where it is a barrier record. */
  scan(): Promise<StoredText[]>;
}

type Auth = { token: string } | { accessKeyId: string; secretAccessKey: string };
type Reply = Awaited<ReturnType<typeof callTarget>>;
interface Creds { AccessKeyId: string; SecretAccessKey: string; Token: string }

interface Blob { readonly keyId: string; readonly blob: string; readonly plaintext: string; readonly context: Record<string, string> }

export interface TenantFixture {
  readonly id: string;
  readonly accountId: string;
  readonly adminName: string;
  readonly userName: string;
  readonly admin: Creds;
  readonly user: Creds;
  /** [rotated twice-versioned key, key with automatic rotation, key pending its own deletion] */
  readonly keys: readonly string[];
  readonly aliases: readonly string[];
  readonly blobs: readonly Blob[];
}

const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
const bearer = (c: Creds): Auth => ({ token: c.Token });
const sigv4 = (c: Creds): Auth => ({ accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey });
const DAY_MS = 86_400_000;

function ok(r: Reply, what: string): Record<string, unknown> {
  expect(r.status, `${what}: ${JSON.stringify(r.body)}`).toBe(200);
  return r.body;
}

function failsWith(r: Reply, type: string, ...mentions: string[]): void {
  expect(r.body.__type, JSON.stringify(r.body)).toBe(type);
  for (const m of mentions) expect(String(r.body.message).toLowerCase()).toContain(m.toLowerCase());
}

export function tenantCalls(c: TenantCluster) {
  const call = (node: number, target: string, body: unknown, auth: Auth) => callTarget(c.urls[node]!, target, body, auth, c.offsetMs);
  const sys = (node: number, target: string, body: unknown) => call(node, target, body, c.admin);
  const describe = async (node: number, tenantId: string) => ok(await sys(node, 'Keyward.DescribeTenant', { TenantId: tenantId }), 'DescribeTenant').Tenant as Record<string, unknown>;
  return { call, sys, describe, nodes: c.urls.map((_, i) => i) };
}

/** A tenant with two principals, three keys (versions, rotation and deletion schedules), two aliases and ciphertexts. */
export async function makeTenant(c: TenantCluster, label: string): Promise<TenantFixture> {
  const { call, sys } = tenantCalls(c);
  const id = unique(label);
  const created = ok(await sys(0, 'Keyward.CreateTenant', { TenantId: id }), 'CreateTenant').Tenant as { AccountId: string; TenantState: string };
  expect(created.TenantState).toBe('Active');
  const adminName = unique('boss');
  const userName = unique('app');
  const admin = ok(await sys(0, 'Keyward.CreatePrincipal', { Name: adminName, Role: 'admin', Tenant: id }), 'CreatePrincipal').Credentials as Creds;
  const user = ok(await sys(0, 'Keyward.CreatePrincipal', { Name: userName, Role: 'user', Tenant: id }), 'CreatePrincipal').Credentials as Creds;
  const keys: string[] = [];
  for (let i = 0; i < 3; i++) {
    keys.push((ok(await call(0, 'TrentService.CreateKey', { Description: `${label} ${i}` }, bearer(admin)), 'CreateKey').KeyMetadata as { KeyId: string }).KeyId);
  }
  const [k1 = '', k2 = '', k3 = ''] = keys;
  ok(await call(0, 'TrentService.RotateKeyOnDemand', { KeyId: k1 }, bearer(admin)), 'RotateKeyOnDemand');
  ok(await call(0, 'TrentService.EnableKeyRotation', { KeyId: k2, RotationPeriodInDays: 90 }, bearer(admin)), 'EnableKeyRotation');
  ok(await call(0, 'TrentService.ScheduleKeyDeletion', { KeyId: k3, PendingWindowInDays: 30 }, bearer(admin)), 'ScheduleKeyDeletion');
  const aliases = [`alias/${unique('orders')}`, `alias/${unique('billing')}`];
  ok(await call(0, 'TrentService.CreateAlias', { AliasName: aliases[0], TargetKeyId: k1 }, bearer(admin)), 'CreateAlias');
  ok(await call(0, 'TrentService.CreateAlias', { AliasName: aliases[1], TargetKeyId: k2 }, bearer(admin)), 'CreateAlias');
  const blobs: Blob[] = [];
  for (const [keyRef, keyId] of [[aliases[0]!, k1], [k2, k2]] as const) {
    const plaintext = `${id} secret for ${keyId}`;
    const context = { tenant: id, n: String(blobs.length) };
    const enc = ok(await call(0, 'TrentService.Encrypt', { KeyId: keyRef, Plaintext: Buffer.from(plaintext).toString('base64'), EncryptionContext: context }, sigv4(user)), 'Encrypt');
    blobs.push({ keyId, blob: enc.CiphertextBlob as string, plaintext, context });
  }
  const gdk = ok(await call(0, 'TrentService.GenerateDataKey', { KeyId: k1, KeySpec: 'AES_256' }, bearer(user)), 'GenerateDataKey');
  blobs.push({ keyId: k1, blob: gdk.CiphertextBlob as string, plaintext: Buffer.from(gdk.Plaintext as string, 'base64').toString('latin1'), context: {} });
  return { id, accountId: created.AccountId, adminName, userName, admin, user, keys, aliases, blobs };
}

interface AuditEntry { readonly tenant: string | null; readonly result: string; readonly request: Record<string, string> }

async function auditRecords(c: TenantCluster, node: number, filter: Record<string, string>): Promise<AuditEntry[]> {
  return ok(await tenantCalls(c).sys(node, 'Keyward.ListAuditRecords', { ...filter, Limit: 1000 }), 'ListAuditRecords').Records as AuditEntry[];
}

/** What a tenant's principals do, one request each; every answer comes back in the same order. */
async function tenantRequests(c: TenantCluster, node: number, t: TenantFixture): Promise<Reply[]> {
  const { call } = tenantCalls(c);
  return [
    ...await Promise.all(t.blobs.map((b) => call(node, 'TrentService.Decrypt', { CiphertextBlob: b.blob, EncryptionContext: b.context }, bearer(t.user)))),
    await call(node, 'TrentService.Encrypt', { KeyId: t.aliases[0], Plaintext: Buffer.from('more').toString('base64') }, sigv4(t.user)),
    await call(node, 'TrentService.DescribeKey', { KeyId: t.aliases[1] }, bearer(t.user)),
    await call(node, 'Keyward.GetCallerIdentity', {}, sigv4(t.user)),
    await call(node, 'TrentService.ListKeys', {}, bearer(t.admin)),
    await call(node, 'Keyward.ListPrincipals', {}, sigv4(t.admin)),
  ];
}

/** Every request of the tenant works on every node (within a second of a change on another node). */
export async function expectWorks(c: TenantCluster, t: TenantFixture): Promise<void> {
  for (const node of tenantCalls(c).nodes) {
    let replies: Reply[] = [];
    expect(await eventually(async () => (replies = await tenantRequests(c, node, t)).every((r) => r.status === 200), 1000)).toBe(true);
    t.blobs.forEach((b, i) => expect(Buffer.from(replies[i]!.body.Plaintext as string, 'base64').toString('latin1')).toBe(b.plaintext));
    const listed = (replies[t.blobs.length + 3]!.body.Keys as Array<{ KeyId: string }>).map((k) => k.KeyId).sort();
    expect(listed).toEqual([...t.keys].sort());
  }
}

/** Every request of the tenant answers `type` naming the reasons, on every node, within a second. */
export async function expectRefused(c: TenantCluster, t: TenantFixture, type: string, mentions: readonly string[]): Promise<void> {
  for (const node of tenantCalls(c).nodes) {
    let replies: Reply[] = [];
    expect(await eventually(async () => (replies = await tenantRequests(c, node, t)).every((r) => r.body.__type === type), 1000), JSON.stringify(replies.map((r) => r.body))).toBe(true);
    for (const r of replies) failsWith(r, type, ...mentions);
  }
}

/**
 * Scheduled for deletion: refused with the state and the date; cancelled: all works again;
 * scheduled again and the clock moved past the window: no record of the tenant is left in the
 * store, its ciphertexts fail on every node (also for a new tenant of the same id), its principals
 * cannot authenticate, the other tenant is untouched and the audit log still verifies.
 */
export async function deletionLifecycle(c: TenantCluster): Promise<void> {
  const { call, sys, describe, nodes } = tenantCalls(c);
  const victim = await makeTenant(c, 'shred');
  const other = await makeTenant(c, 'keep');
  await expectWorks(c, victim); // every node has the victim's keys, material and credentials cached now
  await expectWorks(c, other);
  const otherBefore = await describe(0, other.id);

  const scheduled = ok(await sys(0, 'Keyward.DeleteTenant', { TenantId: victim.id, PendingWindowInDays: 7 }), 'DeleteTenant');
  expect(scheduled).toMatchObject({ TenantId: victim.id, TenantState: 'PendingDeletion', PendingWindowInDays: 7 });
  const deletionDate = new Date((scheduled.DeletionDate as number) * 1000);
  expect(Math.abs(deletionDate.getTime() - (Date.now() + c.offsetMs + 7 * DAY_MS))).toBeLessThan(10 * 60_000);
  await expectRefused(c, victim, 'KMSInvalidStateException', [victim.id, 'pending deletion', deletionDate.toISOString()]);
  await expectWorks(c, other);
  for (const node of nodes) {
    expect(await describe(node, victim.id)).toMatchObject({ TenantState: 'PendingDeletion', DeletionDate: scheduled.DeletionDate, PendingWindowInDays: 7 });
  }
  failsWith(await sys(0, 'Keyward.DeleteTenant', { TenantId: victim.id }), 'KMSInvalidStateException', 'pending deletion');
  failsWith(await sys(0, 'Keyward.UpdateTenant', { TenantId: victim.id, Quotas: { MaxKeys: 1 } }), 'KMSInvalidStateException', 'pending deletion');
  failsWith(await sys(0, 'Keyward.CreatePrincipal', { Name: 'late', Tenant: victim.id }), 'KMSInvalidStateException', 'pending deletion');

  const last = nodes[nodes.length - 1]!;
  expect(ok(await sys(last, 'Keyward.CancelTenantDeletion', { TenantId: victim.id }), 'CancelTenantDeletion')).toMatchObject({ TenantState: 'Active' });
  await expectWorks(c, victim);
  const keyStates = await Promise.all(victim.keys.map(async (k) => (ok(await call(0, 'TrentService.DescribeKey', { KeyId: k }, bearer(victim.admin)), 'DescribeKey').KeyMetadata as { KeyState: string }).KeyState));
  expect(keyStates).toEqual(['Enabled', 'Enabled', 'PendingDeletion']);
  expect(await describe(0, victim.id)).toMatchObject({ TenantState: 'Active', Usage: { Keys: 3, Principals: 2 } });

  // What the scan looks for: every name of the tenant, its credentials and its salt. Before the
  // deletion it finds each kind of record the tenant has (so the empty answer later means something).
  const needles = [
    victim.id, victim.accountId, ...victim.keys, ...victim.aliases, victim.adminName, victim.userName,
    victim.admin.AccessKeyId, victim.user.AccessKeyId, victim.admin.SecretAccessKey, victim.user.SecretAccessKey,
    ...[victim.admin.Token, victim.user.Token].map((token) => token.split('.')[1]!),
  ];
  const before = await c.scan();
  const saltOf = before.map((e) => { try { return JSON.parse(e.text) as { id?: string; salt?: string }; } catch { return {}; } })
    .find((r) => r.id === victim.id && typeof r.salt === 'string')?.salt;
  expect(saltOf).toBeDefined();
  needles.push(saltOf!);
  const found = mentioning(before, needles);
  // tenant, usage, 3 keys, 4 versions' material, 2 aliases, 2 principals, 4 credential indexes,
  // 2 key schedule entries: 19 at least (kinds other engineers add come on top)
  expect(found.length).toBeGreaterThanOrEqual(19);
  const sample = { before: found.length };

  ok(await sys(0, 'Keyward.DeleteTenant', { TenantId: victim.id, PendingWindowInDays: 7 }), 'DeleteTenant');
  expect(mentioning(await c.scan(), needles).length).toBe(sample.before + 1); // + the tenant's own schedule entry
  await c.advanceDays(8);
  expect(await c.deleteDue(victim.id)).toBe(1);

  const left = mentioning(await c.scan(), needles);
  expect(left, `records of the deleted tenant still in the store: ${JSON.stringify(left)}`).toEqual([]);
  for (const node of nodes) {
    failsWith(await sys(node, 'Keyward.DescribeTenant', { TenantId: victim.id }), 'NotFoundException', victim.id);
    for (const creds of [victim.admin, victim.user]) {
      for (const auth of [bearer(creds), sigv4(creds)]) {
        let r: Reply | undefined;
        expect(await eventually(async () => (r = await call(node, 'Keyward.GetCallerIdentity', {}, auth)).body.__type === 'UnrecognizedClientException', 1000), JSON.stringify(r?.body)).toBe(true);
      }
    }
  }

  // The id is free again; a new tenant of that id (new salt) decrypts none of the old ciphertexts,
  // on any node, although every node had the old keys and material cached.
  ok(await sys(0, 'Keyward.CreateTenant', { TenantId: victim.id }), 'CreateTenant');
  const heir = ok(await sys(0, 'Keyward.CreatePrincipal', { Name: 'heir', Role: 'admin', Tenant: victim.id }), 'CreatePrincipal').Credentials as Creds;
  for (const node of nodes) {
    for (const b of victim.blobs) {
      let r: Reply | undefined;
      expect(await eventually(async () => (r = await call(node, 'TrentService.Decrypt', { CiphertextBlob: b.blob, EncryptionContext: b.context }, bearer(heir))).body.__type === 'InvalidCiphertextException', 1000), JSON.stringify(r?.body)).toBe(true);
    }
    for (const k of victim.keys) failsWith(await call(node, 'TrentService.DescribeKey', { KeyId: k }, bearer(heir)), 'NotFoundException');
    for (const a of victim.aliases) failsWith(await call(node, 'TrentService.DescribeKey', { KeyId: a }, bearer(heir)), 'NotFoundException');
  }

  await expectWorks(c, other);
  expect(await describe(0, other.id)).toEqual(otherBefore);
  for (const node of nodes) {
    const report = ok(await sys(node, 'Keyward.VerifyAudit', {}), 'VerifyAudit');
    expect(report.ok, JSON.stringify(report.firstBreak)).toBe(true);
  }
}

/** Suspended: refused with the reason, nothing deleted; deleting and cancelling keeps the suspension; resumed: all works. */
export async function suspensionLifecycle(c: TenantCluster): Promise<void> {
  const { sys, describe, nodes } = tenantCalls(c);
  const late = await makeTenant(c, 'late-payer');
  const paying = await makeTenant(c, 'paying');
  await expectWorks(c, late);
  const usage = (await describe(0, late.id)).Usage;
  const reason = 'invoice 2024-117 is unpaid; contact billing';
  expect(ok(await sys(0, 'Keyward.SuspendTenant', { TenantId: late.id, Reason: reason }), 'SuspendTenant')).toMatchObject({ TenantState: 'Suspended' });
  await expectRefused(c, late, 'DisabledException', [late.id, 'suspended', reason]);
  await expectWorks(c, paying);
  for (const node of nodes) expect(await describe(node, late.id)).toMatchObject({ TenantState: 'Suspended', SuspensionReason: reason, Usage: usage });
  failsWith(await sys(0, 'Keyward.CreatePrincipal', { Name: 'new', Tenant: late.id }), 'DisabledException', reason);
  failsWith(await sys(0, 'Keyward.SuspendTenant', { TenantId: 'default', Reason: 'no' }), 'ValidationException', 'default');
  // the audit log names who was refused and why; the reason itself only as a digest
  const suspended = (await auditRecords(c, 0, { Op: 'SuspendTenant' })).find((r) => r.request.TenantId === late.id);
  expect(suspended?.request.Reason).toMatch(/^hmac-sha256:/);
  const refused = await auditRecords(c, 0, { Principal: late.userName });
  expect(refused.some((r) => r.tenant === late.id && r.result === 'DisabledException')).toBe(true);

  // pending deletion wins while it lasts; cancelling restores exactly the suspension
  ok(await sys(0, 'Keyward.DeleteTenant', { TenantId: late.id }), 'DeleteTenant');
  await expectRefused(c, late, 'KMSInvalidStateException', ['pending deletion']);
  failsWith(await sys(0, 'Keyward.ResumeTenant', { TenantId: late.id }), 'KMSInvalidStateException', 'pending deletion');
  expect(ok(await sys(nodes[nodes.length - 1]!, 'Keyward.CancelTenantDeletion', { TenantId: late.id }), 'CancelTenantDeletion')).toMatchObject({ TenantState: 'Suspended' });
  await expectRefused(c, late, 'DisabledException', [reason]);

  expect(ok(await sys(0, 'Keyward.ResumeTenant', { TenantId: late.id, Reason: 'paid in full' }), 'ResumeTenant')).toMatchObject({ TenantState: 'Active' });
  await expectWorks(c, late);
  const resumed = await describe(0, late.id);
  expect(resumed).toMatchObject({ TenantState: 'Active', ResumeReason: 'paid in full', Usage: usage });
  expect(resumed.SuspensionReason).toBeUndefined();
  failsWith(await sys(0, 'Keyward.ResumeTenant', { TenantId: late.id }), 'KMSInvalidStateException', 'not suspended');
}

/** MaxKeys and MaxPrincipals: exact even when creations race on every node at once. */
export async function quotas(c: TenantCluster): Promise<void> {
  const { call, sys, describe, nodes } = tenantCalls(c);
  const t = await makeTenant(c, 'quota');
  const updated = ok(await sys(0, 'Keyward.UpdateTenant', { TenantId: t.id, Quotas: { MaxKeys: 5, MaxPrincipals: 3 } }), 'UpdateTenant').Tenant;
  expect(updated).toMatchObject({ Quotas: { MaxKeys: 5, MaxPrincipals: 3 }, Usage: { Keys: 3, Principals: 2 } });
  const change = (await auditRecords(c, 0, { Op: 'UpdateTenant' })).find((r) => r.request.TenantId === t.id);
  expect(change?.request).toMatchObject({ 'Quotas.MaxKeys': '5', 'Quotas.MaxPrincipals': '3' });

  // eight creations race for the last two places, spread over every node: exactly two win
  const raced = await Promise.all(Array.from({ length: 8 }, (_, i) => call(i % nodes.length, 'TrentService.CreateKey', {}, bearer(t.admin))));
  expect(raced.filter((r) => r.status === 200)).toHaveLength(2);
  for (const r of raced.filter((x) => x.status !== 200)) failsWith(r, 'LimitExceededException', t.id, 'MaxKeys', '5');
  for (const node of nodes) expect((await describe(node, t.id)).Usage).toEqual({ Keys: 5, Principals: 2 });
  const listed = ok(await call(0, 'TrentService.ListKeys', {}, bearer(t.admin)), 'ListKeys').Keys as unknown[];
  expect(listed).toHaveLength(5);

  ok(await sys(0, 'Keyward.CreatePrincipal', { Name: 'third', Tenant: t.id }), 'CreatePrincipal');
  failsWith(await sys(0, 'Keyward.CreatePrincipal', { Name: 'fourth', Tenant: t.id }), 'LimitExceededException', 'MaxPrincipals');
  ok(await sys(0, 'Keyward.DeletePrincipal', { Name: 'third', Tenant: t.id }), 'DeletePrincipal');
  ok(await sys(0, 'Keyward.CreatePrincipal', { Name: 'fourth', Tenant: t.id }), 'CreatePrincipal');

  // 0 is unlimited; the change applies on every node at once
  ok(await sys(0, 'Keyward.UpdateTenant', { TenantId: t.id, Quotas: { MaxKeys: 0 } }), 'UpdateTenant');
  for (const node of nodes) {
    let r: Reply | undefined;
    expect(await eventually(async () => (r = await call(node, 'TrentService.CreateKey', {}, bearer(t.admin))).status === 200, 1000), JSON.stringify(r?.body)).toBe(true);
  }
  expect(await describe(0, t.id)).toMatchObject({ Quotas: { MaxKeys: 0, MaxPrincipals: 3 }, Usage: { Keys: 5 + nodes.length, Principals: 3 } });
}

/**
 * RequestsPerSecond is one bucket for all of a tenant's principals, enforced by every node; a
 * tenant at its limit does not slow another one down. The bound is the bucket's: burst plus one
 * token a second, per node (each node keeps its own bucket).
 */
export async function tenantRateLimit(c: TenantCluster): Promise<void> {
  const { call, sys, describe, nodes } = tenantCalls(c);
  const noisy = await makeTenant(c, 'noisy');
  const quiet = await makeTenant(c, 'quiet');
  ok(await sys(0, 'Keyward.UpdateTenant', { TenantId: noisy.id, Quotas: { RequestsPerSecond: 1, Burst: 2 } }), 'UpdateTenant');
  for (const node of nodes) {
    expect(await eventually(async () => ((await describe(node, noisy.id)).Quotas as { RequestsPerSecond: number }).RequestsPerSecond === 1, 1000)).toBe(true);
  }
  const started = Date.now();
  const fire = (t: TenantFixture, perNode: number) => Promise.all(nodes.flatMap((node) => Array.from({ length: perNode }, (_, i) => (
    call(node, 'Keyward.GetCallerIdentity', {}, i % 2 === 0 ? bearer(t.user) : sigv4(t.admin)).then((r) => ({ node, r }))
  ))));
  const [loud, calm] = await Promise.all([fire(noisy, 20), fire(quiet, 20)]);
  const elapsedSec = (Date.now() - started) / 1000;
  const accepted = loud.filter((x) => x.r.status === 200);
  for (const x of loud.filter((y) => y.r.status !== 200)) failsWith(x.r, 'ThrottlingException', noisy.id, 'requests per second');
  expect(accepted.length).toBeLessThanOrEqual(nodes.length * (2 + Math.ceil(elapsedSec) + 1));
  for (const node of nodes) expect(loud.filter((x) => x.node === node && x.r.status !== 200).length).toBeGreaterThan(0);
  for (const x of calm) expect(x.r.status, JSON.stringify(x.r.body)).toBe(200);

  ok(await sys(0, 'Keyward.UpdateTenant', { TenantId: noisy.id, Quotas: { RequestsPerSecond: 0 } }), 'UpdateTenant');
  for (const node of nodes) {
    expect(await eventually(async () => (await Promise.all(Array.from({ length: 10 }, () => call(node, 'Keyward.GetCallerIdentity', {}, bearer(noisy.user))))).every((r) => r.status === 200), 1000)).toBe(true);
  }
}

/** Bad input is refused with a clear error and changes nothing; a tenant admin may call none of the tenant operations. */
export async function badInput(c: TenantCluster): Promise<void> {
  const { call, sys, describe } = tenantCalls(c);
  const t = await makeTenant(c, 'strict');
  const before = await describe(0, t.id);
  const missing = unique('no-such');
  const cases: Array<[string, Record<string, unknown>, string, string]> = [
    ['Keyward.DescribeTenant', { TenantId: missing }, 'NotFoundException', missing],
    ['Keyward.DeleteTenant', { TenantId: missing }, 'NotFoundException', missing],
    ['Keyward.CancelTenantDeletion', { TenantId: missing }, 'NotFoundException', missing],
    ['Keyward.SuspendTenant', { TenantId: missing, Reason: 'x' }, 'NotFoundException', missing],
    ['Keyward.ResumeTenant', { TenantId: missing }, 'NotFoundException', missing],
    ['Keyward.UpdateTenant', { TenantId: missing, Quotas: { MaxKeys: 1 } }, 'NotFoundException', missing],
    ['Keyward.DescribeTenant', { TenantId: 'Bad_Id' }, 'ValidationException', 'TenantId'],
    ['Keyward.DeleteTenant', {}, 'ValidationException', 'TenantId'],
    ['Keyward.DeleteTenant', { TenantId: t.id, PendingWindowInDays: 6 }, 'ValidationException', 'PendingWindowInDays'],
    ['Keyward.DeleteTenant', { TenantId: t.id, PendingWindowInDays: 31 }, 'ValidationException', 'PendingWindowInDays'],
    ['Keyward.DeleteTenant', { TenantId: t.id, PendingWindowInDays: 7.5 }, 'ValidationException', 'PendingWindowInDays'],
    ['Keyward.DeleteTenant', { TenantId: t.id, PendingWindowInDays: '7' }, 'ValidationException', 'PendingWindowInDays'],
    ['Keyward.DeleteTenant', { TenantId: 'default' }, 'ValidationException', 'default tenant cannot be deleted'],
    ['Keyward.SuspendTenant', { TenantId: 'default', Reason: 'x' }, 'ValidationException', 'default tenant cannot be suspended'],
    ['Keyward.CancelTenantDeletion', { TenantId: t.id }, 'KMSInvalidStateException', 'not pending deletion'],
    ['Keyward.ResumeTenant', { TenantId: t.id }, 'KMSInvalidStateException', 'not suspended'],
    ['Keyward.SuspendTenant', { TenantId: t.id }, 'ValidationException', 'Reason'],
    ['Keyward.SuspendTenant', { TenantId: t.id, Reason: '' }, 'ValidationException', 'Reason'],
    ['Keyward.SuspendTenant', { TenantId: t.id, Reason: 'line\nbreak' }, 'ValidationException', 'Reason'],
    ['Keyward.SuspendTenant', { TenantId: t.id, Reason: 'x'.repeat(257) }, 'ValidationException', 'Reason'],
    ['Keyward.UpdateTenant', { TenantId: t.id }, 'ValidationException', 'Quotas'],
    ['Keyward.UpdateTenant', { TenantId: t.id, Quotas: 5 }, 'ValidationException', 'Quotas'],
    ['Keyward.UpdateTenant', { TenantId: t.id, Quotas: {} }, 'ValidationException', 'Quotas'],
    ['Keyward.UpdateTenant', { TenantId: t.id, Quotas: { MaxKeys: -1 } }, 'ValidationException', 'Quotas.MaxKeys'],
    ['Keyward.UpdateTenant', { TenantId: t.id, Quotas: { MaxKeys: 2.5 } }, 'ValidationException', 'Quotas.MaxKeys'],
    ['Keyward.UpdateTenant', { TenantId: t.id, Quotas: { MaxPrincipals: 1e12 } }, 'ValidationException', 'Quotas.MaxPrincipals'],
    ['Keyward.UpdateTenant', { TenantId: t.id, Quotas: { RequestsPerSecond: '10' } }, 'ValidationException', 'Quotas.RequestsPerSecond'],
    ['Keyward.UpdateTenant', { TenantId: t.id, Quotas: { Burst: -3 } }, 'ValidationException', 'Quotas.Burst'],
    ['Keyward.UpdateTenant', { TenantId: t.id, Quotas: { MaxKeys: 5, MaxKey: 5 } }, 'ValidationException', 'Quotas."MaxKey"'],
  ];
  for (const [target, body, type, mention] of cases) failsWith(await sys(0, target, body), type, mention);
  // a tenant admin calls none of these, not even on its own tenant
  for (const target of ['DescribeTenant', 'ListTenants', 'UpdateTenant', 'SuspendTenant', 'ResumeTenant', 'DeleteTenant', 'CancelTenantDeletion']) {
    const body = { TenantId: t.id, Reason: 'mine', Quotas: { MaxKeys: 1 } };
    failsWith(await call(0, `Keyward.${target}`, body, bearer(t.admin)), 'AccessDeniedException', target);
  }
  expect(await describe(0, t.id)).toEqual(before);
  await expectWorks(c, t);
}

/** Waits for `count` nodes' logs to name `tenantId`'s deletion, then a second more for a (wrong) second one. */
export async function deletionsLogged(outputs: () => readonly string[], tenantId: string): Promise<number> {
  const count = () => outputs().reduce((n, out) => n + out.split('\n').filter((l) => l.includes('tenant deleted at the end of its window') && l.includes(`"${tenantId}"`)).length, 0);
  await eventually(() => count() > 0, 60_000);
  await sleep(1000);
  return count();
}
