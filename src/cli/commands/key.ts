import type { Command } from 'commander';
import { withClient, withConnection, type ConnectionFlags } from '../connection.js';
import { collect, keyValues, printJson, UsageError } from '../io.js';

type Flags = ConnectionFlags & Record<string, unknown>;

const trent = (op: string) => `TrentService.${op}`;

function version(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`version must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

/** Every page of a paginated listing. */
export async function allPages(send: (marker?: string) => Promise<Record<string, unknown>>, field: string): Promise<unknown[]> {
  const items: unknown[] = [];
  let marker: string | undefined;
  do {
    const page = await send(marker);
    items.push(...((page[field] as unknown[] | undefined) ?? []));
    marker = page.Truncated === true ? String(page.NextMarker) : undefined;
  } while (marker !== undefined);
  return items;
}

type Sender = { send(target: string, body: unknown): Promise<Record<string, unknown>> };

/**
 * The key id of an alias (or the argument itself): operations whose AWS reference takes only a key
 * id or ARN (rotation, enable/disable, deletion, tags) refuse aliases, so the CLI looks one up first.
 */
async function keyIdOf(c: Sender, k: string): Promise<string> {
  if (!k.startsWith('alias/') && !k.includes(':alias/')) return k;
  const meta = (await c.send(trent('DescribeKey'), { KeyId: k })).KeyMetadata as { KeyId?: unknown } | undefined;
  return typeof meta?.KeyId === 'string' ? meta.KeyId : k;
}

export function registerKey(program: Command): void {
  const key = program.command('key').description('create and manage keys');
  const sub = (name: string, description: string) => withConnection(key.command(name)).description(description);

  sub('create', 'create a symmetric key (AES-256-GCM)')
    .option('--description <text>', 'description')
    .option('--tag <key=value>', 'tag (repeatable)', collect)
    .action((f: Flags) => withClient(f, async (c) => {
      const tags = keyValues(f.tag as string[] | undefined, 'tag');
      printJson(await c.send(trent('CreateKey'), {
        ...(f.description !== undefined ? { Description: f.description } : {}),
        ...(tags ? { Tags: Object.entries(tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue })) } : {}),
      }));
    }));
  sub('list', 'list keys of your tenant').action((f: Flags) => withClient(f, async (c) =>
    printJson(await allPages((m) => c.send(trent('ListKeys'), m ? { Marker: m } : {}), 'Keys'))));
  sub('describe', 'describe a key').argument('<key>', 'key id, ARN, alias name or alias ARN')
    .action((k: string, f: Flags) => withClient(f, async (c) => printJson(await c.send(trent('DescribeKey'), { KeyId: k }))));
  sub('rotate', 'rotate now: a new primary version; older versions keep decrypting').argument('<key>')
    .action((k: string, f: Flags) => withClient(f, async (c) => printJson(await c.send(trent('RotateKeyOnDemand'), { KeyId: await keyIdOf(c, k) }))));
  sub('enable', 'enable a key').argument('<key>')
    .action((k: string, f: Flags) => withClient(f, async (c) => printJson(await c.send(trent('EnableKey'), { KeyId: await keyIdOf(c, k) }))));
  sub('disable', 'disable a key (it neither encrypts nor decrypts until enabled)').argument('<key>')
    .action((k: string, f: Flags) => withClient(f, async (c) => printJson(await c.send(trent('DisableKey'), { KeyId: await keyIdOf(c, k) }))));
  sub('schedule-deletion', 'schedule deletion after a 7-30 day window (default 30)').argument('<key>')
    .option('--days <n>', 'pending window in days', (v) => Number(v))
    .action((k: string, f: Flags) => withClient(f, async (c) => printJson(await c.send(trent('ScheduleKeyDeletion'), {
      KeyId: await keyIdOf(c, k), ...(f.days !== undefined ? { PendingWindowInDays: f.days } : {}),
    }))));
  sub('cancel-deletion', 'cancel a scheduled deletion (the key comes back disabled)').argument('<key>')
    .action((k: string, f: Flags) => withClient(f, async (c) => printJson(await c.send(trent('CancelKeyDeletion'), { KeyId: await keyIdOf(c, k) }))));
  sub('update-description', 'change the description').argument('<key>').argument('<description>')
    .action((k: string, d: string, f: Flags) => withClient(f, async (c) => printJson(await c.send(trent('UpdateKeyDescription'), { KeyId: await keyIdOf(c, k), Description: d }))));
  sub('enable-rotation', 'rotate automatically every period (90-2560 days, default 365)').argument('<key>')
    .option('--period <days>', 'rotation period in days', (v) => Number(v))
    .action((k: string, f: Flags) => withClient(f, async (c) => printJson(await c.send(trent('EnableKeyRotation'), {
      KeyId: await keyIdOf(c, k), ...(f.period !== undefined ? { RotationPeriodInDays: f.period } : {}),
    }))));
  sub('disable-rotation', 'stop automatic rotation').argument('<key>')
    .action((k: string, f: Flags) => withClient(f, async (c) => printJson(await c.send(trent('DisableKeyRotation'), { KeyId: await keyIdOf(c, k) }))));
  sub('rotation-status', 'automatic rotation status').argument('<key>')
    .action((k: string, f: Flags) => withClient(f, async (c) => printJson(await c.send(trent('GetKeyRotationStatus'), { KeyId: await keyIdOf(c, k) }))));
  sub('rotations', 'list past rotations').argument('<key>')
    .action((k: string, f: Flags) => withClient(f, async (c) => printJson(await allPages(async (m) => c.send(trent('ListKeyRotations'), { KeyId: await keyIdOf(c, k), ...(m ? { Marker: m } : {}) }), 'Rotations'))));
  sub('versions', 'list versions and their states').argument('<key>')
    .action((k: string, f: Flags) => withClient(f, async (c) => printJson(await c.send('Keyward.ListKeyVersions', { KeyId: k }))));
  sub('disable-version', 'disable one (non-primary) version').argument('<key>').argument('<version>')
    .action((k: string, v: string, f: Flags) => withClient(f, async (c) => printJson(await c.send('Keyward.DisableKeyVersion', { KeyId: k, Version: version(v) }))));
  sub('enable-version', 'enable a disabled version').argument('<key>').argument('<version>')
    .action((k: string, v: string, f: Flags) => withClient(f, async (c) => printJson(await c.send('Keyward.EnableKeyVersion', { KeyId: k, Version: version(v) }))));
  sub('destroy-version', 'destroy one version\'s material: irreversible').argument('<key>').argument('<version>')
    .action((k: string, v: string, f: Flags) => withClient(f, async (c) => printJson(await c.send('Keyward.DestroyKeyVersion', { KeyId: k, Version: version(v) }))));
  sub('tag', 'add or replace tags').argument('<key>').argument('<tags...>', 'key=value pairs')
    .action((k: string, pairs: string[], f: Flags) => withClient(f, async (c) => {
      const tags = keyValues(pairs, 'tag') ?? {};
      printJson(await c.send(trent('TagResource'), { KeyId: await keyIdOf(c, k), Tags: Object.entries(tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue })) }));
    }));
  sub('untag', 'remove tags').argument('<key>').argument('<tagKeys...>')
    .action((k: string, tagKeys: string[], f: Flags) => withClient(f, async (c) => printJson(await c.send(trent('UntagResource'), { KeyId: await keyIdOf(c, k), TagKeys: tagKeys }))));
  sub('tags', 'list tags').argument('<key>')
    .action((k: string, f: Flags) => withClient(f, async (c) => printJson(await allPages(async (m) => c.send(trent('ListResourceTags'), { KeyId: await keyIdOf(c, k), ...(m ? { Marker: m } : {}) }), 'Tags'))));
}

export function registerAlias(program: Command): void {
  const alias = program.command('alias').description('manage aliases (names starting with alias/)');
  const sub = (name: string, description: string) => withConnection(alias.command(name)).description(description);
  sub('create', 'point a new alias at a key').argument('<alias>').argument('<key>', 'key id or ARN')
    .action((a: string, k: string, f: Flags) => withClient(f, async (c) => printJson(await c.send(trent('CreateAlias'), { AliasName: a, TargetKeyId: k }))));
  sub('update', 'point an alias at another key').argument('<alias>').argument('<key>')
    .action((a: string, k: string, f: Flags) => withClient(f, async (c) => printJson(await c.send(trent('UpdateAlias'), { AliasName: a, TargetKeyId: k }))));
  sub('delete', 'delete an alias (the key stays)').argument('<alias>')
    .action((a: string, f: Flags) => withClient(f, async (c) => printJson(await c.send(trent('DeleteAlias'), { AliasName: a }))));
  sub('list', 'list aliases').option('--key <key>', 'only aliases of this key')
    .action((f: Flags) => withClient(f, async (c) => printJson(await allPages((m) => c.send(trent('ListAliases'), {
      ...(f.key !== undefined ? { KeyId: f.key } : {}), ...(m ? { Marker: m } : {}),
    }), 'Aliases'))));
}

export function registerPrincipal(program: Command): void {
  const principal = program.command('principal').description('manage principals (admin: control plane; user: data plane only)');
  const sub = (name: string, description: string) => withConnection(principal.command(name)).description(description);
  sub('create', 'create a principal; its credentials are printed once').argument('<name>')
    .option('--role <role>', 'admin or user', 'user')
    .option('--tenant <tenant>', 'tenant (default: your own; another tenant needs a system admin)')
    .action((name: string, f: Flags) => withClient(f, async (c) => printJson(await c.send('Keyward.CreatePrincipal', {
      Name: name, Role: f.role, ...(f.tenant !== undefined ? { Tenant: f.tenant } : {}),
    }))));
  sub('list', 'list principals').option('--tenant <tenant>', 'tenant')
    .action((f: Flags) => withClient(f, async (c) => printJson(await allPages((m) => c.send('Keyward.ListPrincipals', {
      ...(f.tenant !== undefined ? { Tenant: f.tenant } : {}), ...(m ? { Marker: m } : {}),
    }), 'Principals'))));
  sub('delete', 'delete a principal and its credentials').argument('<name>').option('--tenant <tenant>', 'tenant')
    .action((name: string, f: Flags) => withClient(f, async (c) => printJson(await c.send('Keyward.DeletePrincipal', {
      Name: name, ...(f.tenant !== undefined ? { Tenant: f.tenant } : {}),
    }))));
}

/** A non-negative integer flag (quotas: 0 is unlimited). */
function count(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`${flag} must be a non-negative integer (0: unlimited), got ${JSON.stringify(v)}`);
    return n;
  };
}

export function registerTenant(program: Command): void {
  const tenant = program.command('tenant').description('manage tenants and their lifecycle (system admin)');
  const sub = (name: string, description: string) => withConnection(tenant.command(name)).description(description);
  sub('create', 'create a tenant').argument('<id>', 'a-z, 0-9 and -')
    .action((id: string, f: Flags) => withClient(f, async (c) => printJson(await c.send('Keyward.CreateTenant', { TenantId: id }))));
  sub('list', 'list tenants with their state, quotas and usage')
    .action((f: Flags) => withClient(f, async (c) => printJson(await allPages((m) => c.send('Keyward.ListTenants', m ? { Marker: m } : {}), 'Tenants'))));
  sub('describe', 'state, deletion date, quotas in force and usage').argument('<id>')
    .action((id: string, f: Flags) => withClient(f, async (c) => printJson(await c.send('Keyward.DescribeTenant', { TenantId: id }))));
  sub('update', 'set quotas (0: unlimited; those not given keep their value)').argument('<id>')
    .option('--max-keys <n>', 'keys the tenant may hold (CreateKey beyond: LimitExceededException)', count('--max-keys'))
    .option('--max-principals <n>', 'principals the tenant may have', count('--max-principals'))
    .option('--requests-per-second <n>', 'requests per second shared by all its principals, per node (beyond: ThrottlingException)', count('--requests-per-second'))
    .option('--burst <n>', 'requests at once above the rate (0: one second\'s worth)', count('--burst'))
    .action((id: string, f: Flags) => withClient(f, async (c) => {
      const quotas = {
        ...(f.maxKeys !== undefined ? { MaxKeys: f.maxKeys } : {}),
        ...(f.maxPrincipals !== undefined ? { MaxPrincipals: f.maxPrincipals } : {}),
        ...(f.requestsPerSecond !== undefined ? { RequestsPerSecond: f.requestsPerSecond } : {}),
        ...(f.burst !== undefined ? { Burst: f.burst } : {}),
      };
      if (Object.keys(quotas).length === 0) throw new UsageError('give at least one of --max-keys, --max-principals, --requests-per-second, --burst');
      printJson(await c.send('Keyward.UpdateTenant', { TenantId: id, Quotas: quotas }));
    }));
  sub('suspend', 'refuse every request of the tenant (DisabledException with the reason); nothing is deleted').argument('<id>')
    .requiredOption('--reason <text>', 'shown to the tenant\'s callers')
    .action((id: string, f: Flags) => withClient(f, async (c) => printJson(await c.send('Keyward.SuspendTenant', { TenantId: id, Reason: f.reason }))));
  sub('resume', 'end a suspension').argument('<id>').option('--reason <text>', 'why (kept with the tenant)')
    .action((id: string, f: Flags) => withClient(f, async (c) => printJson(await c.send('Keyward.ResumeTenant', {
      TenantId: id, ...(f.reason !== undefined ? { Reason: f.reason } : {}),
    }))));
  sub('delete', 'schedule the tenant\'s deletion after a 7-30 day window (default 30); at its end every key of it is crypto-shredded').argument('<id>')
    .option('--days <n>', 'pending window in days', (v) => Number(v))
    .action((id: string, f: Flags) => withClient(f, async (c) => printJson(await c.send('Keyward.DeleteTenant', {
      TenantId: id, ...(f.days !== undefined ? { PendingWindowInDays: f.days } : {}),
    }))));
  sub('cancel-deletion', 'cancel a scheduled deletion: the tenant is exactly as it was').argument('<id>')
    .action((id: string, f: Flags) => withClient(f, async (c) => printJson(await c.send('Keyward.CancelTenantDeletion', { TenantId: id }))));
}
