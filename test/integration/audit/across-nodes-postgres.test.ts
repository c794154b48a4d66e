import { CreateKeyCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyAudit } from '../../helpers/audit.js';
import { callTarget } from '../../helpers/keyward-api.js';
import { createTestDatabase, postgresAvailable } from '../../helpers/postgres.js';
import { keyward } from '../../helpers/process.js';
import { startTestServer, tempDir, TEST_PASSPHRASE, type TestServer } from '../../helpers/server.js';

const available = await postgresAvailable();

type Rec = { chain: string; seq: number; op: string; type: string; kind?: string };

/** Issue 21 item 8: the audit log of several nodes on one PostgreSQL database, as one operator sees it. */
describe.skipIf(!available)('audit across two nodes on PostgreSQL', () => {
  it('search and tail cover every chain unless --chain; prune exports name their node; a file sink started mid-chain verifies alone; health probes are not recorded', async () => {
    const db = await createTestDatabase('audit_nodes2');
    const shared = tempDir('keyward-exports-');
    const bDir = tempDir();
    const sinkFile = join(tempDir('keyward-sink-'), 'node-b.jsonl');
    let a: TestServer | undefined;
    let b: TestServer | undefined;
    try {
      a = await startTestServer({ config: { store: db.url, nodeId: 'node-a', auditExportDir: shared } });
      const bConfig = { store: db.url, nodeId: 'node-b', auditExportDir: shared };
      b = await startTestServer({ dataDir: bDir, init: false, admin: a.admin, config: bConfig });
      const unseal = (url: string) => fetch(`${url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: TEST_PASSPHRASE }) });
      expect((await unseal(b.url)).status).toBe(200);
      const keyB = (await b.kms.send(new CreateKeyCommand({ Description: 'made on b' }))).KeyMetadata!.KeyId!;
      await b.kms.send(new EncryptCommand({ KeyId: keyB, Plaintext: Buffer.from('on b') }));

      // `keyward audit search` and `tail` against node A see node B's chain too
      const env = { KEYWARD_ENDPOINT: a.url, KEYWARD_TOKEN: a.admin.token };
      const search = await keyward(['audit', 'search', '--op', 'CreateKey'], env);
      expect(search.code, search.stderr).toBe(0);
      expect((JSON.parse(search.stdout) as Rec[]).map((r) => r.chain)).toContain('node-b');
      const narrowed = await keyward(['audit', 'search', '--op', 'CreateKey', '--chain', 'node-a'], env);
      expect((JSON.parse(narrowed.stdout) as Rec[]).every((r) => r.chain === 'node-a')).toBe(true);
      const tail = await keyward(['audit', 'tail', '-n', '50'], env);
      expect(tail.code, tail.stderr).toBe(0);
      const chains = new Set((JSON.parse(tail.stdout) as Rec[]).map((r) => r.chain));
      expect(chains.has('node-a') && chains.has('node-b')).toBe(true);
      // paging across chains: one record at a time, every record once
      const seen: string[] = [];
      let token: string | undefined;
      for (let i = 0; i < 200; i++) {
        const page = await callTarget(a.url, 'Keyward.ListAuditRecords', { Op: 'Encrypt', Limit: 1, ...(token !== undefined ? { NextToken: token } : {}) }, { token: a.admin.token });
        expect(page.status).toBe(200);
        seen.push(...(page.body.Records as Rec[]).map((r) => `${r.chain}:${r.seq}`));
        token = page.body.NextToken as string | undefined;
        if (token === undefined) break;
      }
      const all = await callTarget(a.url, 'Keyward.ListAuditRecords', { Op: 'Encrypt', Limit: 1000 }, { token: a.admin.token });
      expect(seen).toEqual((all.body.Records as Rec[]).map((r) => `${r.chain}:${r.seq}`));
      expect(seen.length).toBeGreaterThanOrEqual(1);

      // health probes: answered and counted, never written to the audit log
      for (let i = 0; i < 5; i++) expect((await fetch(`${a.url}/v1/sys/health`)).status).toBe(200);
      const probes = await callTarget(a.url, 'Keyward.ListAuditRecords', { Op: 'Health', Limit: 10 }, { token: a.admin.token });
      expect(probes.body.Records).toEqual([]);
      const metrics = await (await fetch(`${a.url}/metrics`)).text();
      const counted = /keyward_requests_total\{operation="Health",code="OK"\} (\d+)/.exec(metrics);
      expect(Number(counted?.[1])).toBeGreaterThanOrEqual(5);

      // node B restarts with a file sink on its existing chain: the file starts with a signed anchor
      await b.close();
      b = await startTestServer({ dataDir: bDir, init: false, admin: a.admin, config: { ...bConfig, auditFile: sinkFile } });
      expect((await unseal(b.url)).status).toBe(200);
      await b.kms.send(new EncryptCommand({ KeyId: keyB, Plaintext: Buffer.from('after restart') }));
      const pub = join(dirname(sinkFile), 'audit.pub');
      writeFileSync(pub, (await callTarget(b.url, 'Keyward.GetAuditPublicKey', {}, { token: a.admin.token })).body.PublicKey as string);
      const lines = readFileSync(sinkFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Rec);
      expect(lines[0]).toMatchObject({ type: 'checkpoint', kind: 'anchor', chain: 'node-b' });
      expect(lines[0]!.seq).toBeGreaterThan(1);
      const verified = await keyward(['audit', 'verify', '--file', sinkFile, '--public-key', pub], {});
      expect(verified.stderr).not.toMatch(/broken/);
      expect(verified.code).toBe(0);
      expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true });

      // retention on node B: the export lands in the shared location and names node B
      b.advanceDays(3);
      const pruned = await callTarget(b.url, 'Keyward.PruneAudit', { OlderThanDays: 1 }, { token: a.admin.token }, 3 * 86_400_000);
      expect(pruned.status, JSON.stringify(pruned.body)).toBe(200);
      expect(pruned.body).toMatchObject({ Chain: 'node-b', Node: 'node-b' });
      const exportFile = pruned.body.ExportFile as string;
      expect(dirname(exportFile)).toBe(shared);
      expect(basename(exportFile)).toMatch(/-by-node-b\.jsonl$/);
      expect((await keyward(['audit', 'verify', '--file', exportFile, '--public-key', pub], {})).code).toBe(0);
      expect((await verifyAudit(a.url, { token: a.admin.token })).ok).toBe(true);
    } finally {
      await b?.close();
      await a?.close();
      await db.drop();
      for (const d of [shared, bDir, dirname(sinkFile)]) rmSync(d, { recursive: true, force: true });
    }
  }, 180_000);
});
