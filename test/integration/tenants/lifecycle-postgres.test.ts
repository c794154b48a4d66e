import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { openInstallation, unsealInstallation } from '../../../src/server.js';
import { callTarget } from '../../helpers/keyward-api.js';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../../helpers/postgres.js';
import { clockOffsetEnv, keyward, spawnKeyward, type KeywardProcess } from '../../helpers/process.js';
import { FAST_ARGON2, tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';
import { storeTexts } from '../../helpers/store-scan.js';
import { eventually } from '../../helpers/wait.js';
import { badInput, deletionLifecycle, deletionsLogged, quotas, suspensionLifecycle, tenantRateLimit, type TenantCluster } from './lifecycle-cases.js';

const available = await postgresAvailable();
const FAST = { KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1' };
/** Starting a node takes about a second; on a machine busy with other work, far longer. */
const START_MS = 90_000;

describe.runIf(available)('tenant lifecycle on two Keyward processes sharing one PostgreSQL database', () => {
  const dir = tempDir('keyward-tenants-pg-');
  const clockFile = join(dir, 'clock-offset-ms');
  let db: TestDatabase;
  const nodes: KeywardProcess[] = [];
  let cluster: TenantCluster;

  beforeAll(async () => {
    db = await createTestDatabase('tenants');
    writeFileSync(clockFile, '0');
    const init = await keyward(['init', '--store', db.url, '--data-dir', dir, '--json'], { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    expect(init.code, init.stderr).toBe(0);
    const admin = JSON.parse(init.stdout) as { access_key_id: string; secret_access_key: string; token: string };
    // info: the node that deletes a tenant says so in its log (counted below: exactly one does)
    const env = { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE, KEYWARD_LOG_LEVEL: 'info', KEYWARD_SCHEDULER_INTERVAL_MS: '200', ...clockOffsetEnv(clockFile) };
    nodes.push(...await Promise.all([0, 1].map(() => spawnKeyward(['server', '--store', db.url, '--data-dir', dir, '--listen', '127.0.0.1:0'], env, START_MS))));
    let offsetMs = 0;
    cluster = {
      urls: nodes.map((n) => n.url),
      admin: { token: admin.token },
      get offsetMs() { return offsetMs; },
      async advanceDays(days) {
        offsetMs += days * 86_400_000;
        writeFileSync(clockFile, String(offsetMs));
        // a SigV4 request signed at the new time passes only once the node's clock has moved
        for (const n of nodes) {
          expect(await eventually(async () => (await callTarget(n.url, 'Keyward.GetCallerIdentity', {}, { accessKeyId: admin.access_key_id, secretAccessKey: admin.secret_access_key }, offsetMs)).status === 200, 30_000)).toBe(true);
        }
      },
      // the nodes' own schedulers (every 200 ms) race for the deletion; their logs say who did it
      deleteDue: (tenantId) => deletionsLogged(() => nodes.map((n) => n.output()), tenantId),
      async scan() {
        // a third, in-process view of the same database, unsealed, reading every record
        const config = loadConfig({ store: db.url, dataDir: dir, logLevel: 'silent', audit: 'off', ...FAST_ARGON2 }, {});
        const installation = openInstallation(config);
        try {
          await installation.store.ready?.();
          await unsealInstallation(installation, TEST_PASSPHRASE);
          return await storeTexts(installation.store, installation.barrier);
        } finally {
          await installation.close();
        }
      },
    };
  }, 3 * START_MS);

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('deletion: refused on both nodes while pending, cancelled, then crypto-shredded once, caches dropped on both', () => deletionLifecycle(cluster), 180_000);
  it('suspension and resume, seen by both nodes', () => suspensionLifecycle(cluster), 120_000);
  it('key and principal quotas, exact under creations racing on both nodes', () => quotas(cluster), 120_000);
  it('the tenant rate limit, enforced by each node', () => tenantRateLimit(cluster), 120_000);
  it('bad input changes nothing', () => badInput(cluster), 120_000);
});
