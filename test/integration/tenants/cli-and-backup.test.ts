import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { openInstallation, unsealInstallation } from '../../../src/server.js';
import { callTarget } from '../../helpers/keyward-api.js';
import { keyward, spawnKeyward, type KeywardProcess } from '../../helpers/process.js';
import { FAST_ARGON2, tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';
import { mentioning, storeTexts, type StoredText } from '../../helpers/store-scan.js';

const FAST = { KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1', KEYWARD_LOG_LEVEL: 'warn' };
const WITH_PASS = { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE };
const START_MS = 90_000;

interface Creds { AccessKeyId: string; SecretAccessKey: string; Token: string }

/** Every record of an SQLite store but the audit log, decrypted (the store is unsealed in process). */
async function scanSqlite(path: string): Promise<StoredText[]> {
  const installation = openInstallation(loadConfig({ store: `sqlite:${path}`, logLevel: 'silent', audit: 'off', ...FAST_ARGON2 }, {}), { background: false });
  try {
    await unsealInstallation(installation, TEST_PASSPHRASE);
    return await storeTexts(installation.store, installation.barrier);
  } finally {
    await installation.close();
  }
}

/**
 * The README's tenant lifecycle through the real `keyward` CLI, and the backup side of shredding:
 * `keyward backup --exclude-tenant` on the live store, and the documented purge of an old backup
 * (restore it into a scratch store, back that up without the tenant).
 */
// every step is a `keyward` process (about 0.5 s of start-up each, several seconds on a busy machine)
describe('keyward tenant commands and backups without a tenant', { timeout: 300_000 }, () => {
  const dir = tempDir('keyward-tenant-cli-');
  let server: KeywardProcess;
  let asSystem: NodeJS.ProcessEnv;
  const gone = `gone-${process.pid}`;
  const stay = `stay-${process.pid}`;
  const blobs: Record<string, string> = {};
  const needles: string[] = [gone];
  const cli = async (args: string[], env: NodeJS.ProcessEnv, input?: string) => {
    const r = await keyward(args, env, input);
    expect(r.code, `keyward ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };
  const json = async (args: string[], env: NodeJS.ProcessEnv) => JSON.parse(await cli(args, env)) as Record<string, unknown>;

  beforeAll(async () => {
    const init = JSON.parse(await cli(['init', '--data-dir', dir, '--json'], WITH_PASS)) as { token: string };
    server = await spawnKeyward(['server', '--data-dir', dir, '--listen', '127.0.0.1:0'], WITH_PASS, START_MS);
    asSystem = { ...FAST, KEYWARD_ENDPOINT: server.url, KEYWARD_TOKEN: init.token };
    // the setup goes over HTTP (each CLI call is a process: kept for what is under test)
    const api = async (target: string, body: unknown, token: string) => {
      const r = await callTarget(server.url, target, body, { token });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body;
    };
    for (const tenant of [gone, stay]) {
      await api('Keyward.CreateTenant', { TenantId: tenant }, init.token);
      const boss = (await api('Keyward.CreatePrincipal', { Name: 'boss', Role: 'admin', Tenant: tenant }, init.token)).Credentials as Creds;
      const key = ((await api('TrentService.CreateKey', { Description: tenant }, boss.Token)).KeyMetadata as { KeyId: string }).KeyId;
      await api('TrentService.CreateAlias', { AliasName: `alias/${tenant}-orders`, TargetKeyId: key }, boss.Token);
      const plaintext = Buffer.from(`secret of ${tenant}`).toString('base64');
      blobs[tenant] = (await api('TrentService.Encrypt', { KeyId: `alias/${tenant}-orders`, Plaintext: plaintext, EncryptionContext: { tenant } }, boss.Token)).CiphertextBlob as string;
      if (tenant === gone) needles.push(key, boss.AccessKeyId, boss.Token.split('.')[1]!);
    }
  }, 300_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('tenant update, describe, suspend, resume, delete, cancel-deletion and list', async () => {
    const updated = (await json(['tenant', 'update', stay, '--max-keys', '50', '--requests-per-second', '100', '--burst', '200'], asSystem)).Tenant;
    expect(updated).toMatchObject({ TenantId: stay, TenantState: 'Active', Quotas: { MaxKeys: 50, RequestsPerSecond: 100, Burst: 200 }, Usage: { Keys: 1, Principals: 1 } });
    expect(await json(['tenant', 'suspend', stay, '--reason', 'audit in progress'], asSystem)).toMatchObject({ TenantState: 'Suspended' });
    expect((await json(['tenant', 'describe', stay], asSystem)).Tenant).toMatchObject({ TenantState: 'Suspended', SuspensionReason: 'audit in progress' });
    expect(await json(['tenant', 'resume', stay], asSystem)).toMatchObject({ TenantState: 'Active' });
    expect(await json(['tenant', 'delete', stay, '--days', '7'], asSystem)).toMatchObject({ TenantState: 'PendingDeletion', PendingWindowInDays: 7 });
    expect(await json(['tenant', 'cancel-deletion', stay], asSystem)).toMatchObject({ TenantState: 'Active' });
    const listed = JSON.parse(await cli(['tenant', 'list'], asSystem)) as Array<{ TenantId: string; TenantState: string }>;
    expect(listed.map((t) => t.TenantId)).toEqual(expect.arrayContaining(['default', gone, stay]));
    // bad flags are refused before anything is sent
    const bad = await keyward(['tenant', 'update', stay, '--max-keys', '-1'], asSystem);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--max-keys');
    const none = await keyward(['tenant', 'update', stay], asSystem);
    expect(none.code).toBe(2);
    const refused = await keyward(['tenant', 'delete', 'default'], asSystem);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('ValidationException');
  });

  it('backup --exclude-tenant leaves out every record of the tenant; a restore of it serves the others', async () => {
    expect(await json(['tenant', 'delete', gone, '--days', '7'], asSystem)).toMatchObject({ TenantState: 'PendingDeletion' });
    const full = join(dir, 'full.backup');
    const without = join(dir, 'without.backup');
    await cli(['backup', '--data-dir', dir, '--out', full], FAST);
    const r = await json(['backup', '--data-dir', dir, '--exclude-tenant', gone, '--out', without], WITH_PASS);
    expect(r).toMatchObject({ excludedTenant: gone });
    // tenant, usage, key, material, alias, principal, two credential indexes at least
    expect(r.excluded).toBeGreaterThanOrEqual(8);

    // the documented purge of an old backup: restore it into a scratch store, back that up without the tenant
    const scratch = join(dir, 'scratch.db');
    const purged = join(dir, 'purged.backup');
    await cli(['restore', '--store', `sqlite:${scratch}`, '--in', full], FAST);
    expect(await json(['backup', '--store', `sqlite:${scratch}`, '--exclude-tenant', gone, '--out', purged], WITH_PASS)).toMatchObject({ excluded: r.excluded });

    const restored: string[] = [];
    for (const [name, file] of [['full', full], ['without', without], ['purged', purged]] as const) {
      const target = join(dir, `restored-${name}.db`);
      await cli(['restore', '--store', `sqlite:${target}`, '--in', file], FAST);
      restored.push(target);
    }
    expect(mentioning(await scanSqlite(restored[0]!), needles).length).toBeGreaterThanOrEqual(8); // the scan finds them where they are
    for (const target of restored.slice(1)) {
      const left = mentioning(await scanSqlite(target), needles);
      expect(left, JSON.stringify(left)).toEqual([]);
    }

    // a server on the purged copy serves the other tenant; the left-out one is unknown there
    const copy = await spawnKeyward(['server', '--store', `sqlite:${restored[2]!}`, '--data-dir', dir, '--listen', '127.0.0.1:0'], WITH_PASS, START_MS);
    try {
      const onCopy = { ...asSystem, KEYWARD_ENDPOINT: copy.url };
      const tenants = JSON.parse(await cli(['tenant', 'list'], onCopy)) as Array<{ TenantId: string }>;
      expect(tenants.map((t) => t.TenantId).sort()).toEqual(['default', stay].sort());
      const boss = (await json(['principal', 'create', 'auditor', '--role', 'user', '--tenant', stay], onCopy)).Credentials as Creds;
      const plain = await cli(['decrypt', '--context', `tenant=${stay}`], { ...FAST, KEYWARD_ENDPOINT: copy.url, KEYWARD_TOKEN: boss.Token }, blobs[stay]);
      expect(plain).toBe(`secret of ${stay}`);
      const describe = await keyward(['tenant', 'describe', gone], onCopy);
      expect(describe.stderr).toContain('NotFoundException');
    } finally {
      await copy.stop();
    }
  });

  it('backup --exclude-tenant refuses the default tenant and a missing passphrase, and writes nothing', async () => {
    const out = join(dir, 'never.backup');
    const d = await keyward(['backup', '--data-dir', dir, '--exclude-tenant', 'default', '--out', out], WITH_PASS);
    expect(d.code).toBe(1);
    expect(d.stderr).toContain('default tenant cannot be left out');
    const p = await keyward(['backup', '--data-dir', dir, '--exclude-tenant', gone, '--out', out], FAST);
    expect(p.code).toBe(2);
    expect(p.stderr).toContain('passphrase');
    expect((await keyward(['restore', '--store', `sqlite:${join(dir, 'never.db')}`, '--in', out], FAST)).code).not.toBe(0);
  });
});
