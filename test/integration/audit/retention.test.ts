import { CreateKeyCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTarget } from '../../helpers/keyward-api.js';
import { keyward } from '../../helpers/process.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { verifyAudit } from '../../helpers/audit.js';

const CHAIN = 'node-retention';

/** Retention: export and prune old records; what remains (and what was exported) still verifies. */
describe('audit retention', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ config: { nodeId: CHAIN, auditCheckpointRecords: 4 } });
  });
  afterAll(async () => t?.close());

  it('prunes records older than the age behind an anchor checkpoint; the rest and the export verify', async () => {
    const keyId = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    for (let i = 0; i < 6; i++) await t.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('old') }));
    const oldCount = (await t.server.installation.audit.query({ limit: 1000 })).records.length;
    t.advanceDays(40);
    for (let i = 0; i < 3; i++) await t.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('new') }));

    const pruned = await callTarget(t.url, 'Keyward.PruneAudit', { OlderThanDays: 30 }, { token: t.admin.token });
    expect(pruned.status, JSON.stringify(pruned.body)).toBe(200);
    expect(pruned.body).toMatchObject({ Chain: CHAIN, PrunedThrough: oldCount, RecordsPruned: oldCount });

    const left = (await t.server.installation.audit.query({ limit: 1000 })).records;
    expect(left[0]!.seq).toBe(oldCount + 1);
    expect(left.some((r) => r.time < new Date(Date.now() + 30 * 86_400_000).toISOString())).toBe(false);
    const report = await verifyAudit(t.url, { token: t.admin.token }, { Chain: CHAIN });
    expect(report.firstBreak).toBeNull();
    expect(report.chains[0]).toMatchObject({ ok: true, firstSeq: oldCount + 1 });

    // the export verifies on its own with the public key
    const pem = (await callTarget(t.url, 'Keyward.GetAuditPublicKey', {}, { token: t.admin.token })).body.PublicKey as string;
    const pub = join(t.dataDir, 'audit.pub');
    writeFileSync(pub, pem);
    const exported = await keyward(['audit', 'verify', '--file', pruned.body.ExportFile as string, '--public-key', pub], {});
    expect(exported.code, exported.stderr).toBe(0);
    expect(JSON.parse(exported.stdout)).toMatchObject({ ok: true, chains: [{ records: oldCount, lastSeq: oldCount }] });

    // an attacker deleting the oldest kept records cannot pass them off as pruned
    const { store } = t.server.installation;
    await store.delete(`audit/${CHAIN}/r/${String(oldCount + 1).padStart(15, '0')}`);
    const broken = await verifyAudit(t.url, { token: t.admin.token }, { Chain: CHAIN });
    expect(broken.firstBreak).toMatchObject({ kind: 'deleted' });
  });

  it('refuses a bad age with a clear error', async () => {
    const bad = await callTarget(t.url, 'Keyward.PruneAudit', { OlderThanDays: -1 }, { token: t.admin.token });
    expect(bad.body.__type).toBe('ValidationException');
    expect(String(bad.body.message)).toMatch(/olderThanDays/i);
  });
});
