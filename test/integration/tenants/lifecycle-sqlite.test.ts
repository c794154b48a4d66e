import { afterAll, beforeAll, describe, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { storeTexts } from '../../helpers/store-scan.js';
import { badInput, deletionLifecycle, quotas, suspensionLifecycle, tenantRateLimit, type TenantCluster } from './lifecycle-cases.js';

describe('tenant lifecycle on SQLite (one node, in process, test clock)', () => {
  let t: TestServer;
  let cluster: TenantCluster;

  beforeAll(async () => {
    t = await startTestServer();
    const { keyring, store, barrier } = t.server.installation;
    let offsetMs = 0;
    cluster = {
      urls: [t.url],
      admin: { token: t.admin.token },
      get offsetMs() { return offsetMs; },
      async advanceDays(days) {
        t.advanceDays(days);
        offsetMs += days * 86_400_000;
      },
      async deleteDue() {
        return (await keyring.scheduler.tick()).tenantsDeleted;
      },
      scan: () => storeTexts(store, barrier),
    };
  });
  afterAll(async () => { await t?.close(); });

  it('deletion: refused while pending, cancelled, then crypto-shredded at the end of the window', () => deletionLifecycle(cluster), 180_000);
  it('suspension and resume', () => suspensionLifecycle(cluster), 120_000);
  it('key and principal quotas', () => quotas(cluster), 120_000);
  it('the tenant rate limit', () => tenantRateLimit(cluster), 120_000);
  it('bad input changes nothing', () => badInput(cluster), 120_000);
});
