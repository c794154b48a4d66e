import { CreateKeyCommand, DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../../src/config/index.js';
import { verifyAudit } from '../../helpers/audit.js';
import { callTarget } from '../../helpers/keyward-api.js';
import { keyward } from '../../helpers/process.js';
import { startTestServer, tempDir, TEST_PASSPHRASE, type AdminCredentials, type TestServer } from '../../helpers/server.js';
import { eventually } from '../../helpers/wait.js';

/** The store's key-value table as its administrator (or anyone who can write the file) has it. */
export interface RawRows {
  /** Every row: key, value and the version column. */
  all(): Promise<Array<{ key: string; value: Buffer; version: number }>>;
  set(key: string, value: Buffer, version: number): Promise<void>;
  del(key: string): Promise<void>;
  close(): Promise<void>;
}

export interface RollbackBackend {
  /** Store settings for a server; the data directory (and the anchor in it) is always local. */
  readonly config: ConfigInput;
  /** The CLI's --store for this backend (undefined: the data directory's SQLite). */
  readonly storeFlag?: string;
  rows(dataDir: string): Promise<RawRows>;
  cleanup(): Promise<void>;
}

const isAudit = (key: string) => key.startsWith('audit/') || key.startsWith('audit-chains/');

async function unseal(url: string, passphrase = TEST_PASSPHRASE): Promise<number> {
  return (await fetch(`${url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase }) })).status;
}

async function health(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/v1/sys/health`);
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

/**
 * The security review's attack (issue 13 item 1) with write access to the store only: save the
 * rows, let the owner destroy a version, disable the key, delete a principal and rekey, write the
 * old rows back, cut the audit chain back to the last signed checkpoint before the owner's
 * changes and reset its head, then restart. The node-local anchor must catch it.
 */
export function describeRollback(label: string, open: () => Promise<RollbackBackend>): void {
  describe(`rollback of the store (${label})`, () => {
    it('rows written back and the audit chain cut back to a signed checkpoint are detected; key operations are refused until accept-rollback', async () => {
      const backend = await open();
      const dataDir = tempDir();
      let t: TestServer | undefined;
      try {
        t = await startTestServer({ dataDir, config: { ...backend.config, auditCheckpointRecords: 1000, auditCheckpointMs: 3_600_000 } });
        const admin: AdminCredentials = t.admin;
        const chain = (await health(t.url)).body.node as string;
        expect(chain).not.toMatch(new RegExp(`-${process.pid}$`));
        const keyId = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
        const ct = (await t.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('before') }))).CiphertextBlob!;
        expect((await callTarget(t.url, 'TrentService.RotateKeyOnDemand', { KeyId: keyId }, admin)).status).toBe(200);
        const created = await callTarget(t.url, 'Keyward.CreatePrincipal', { Name: 'mallory', Role: 'admin' }, admin);
        expect(created.status).toBe(200);
        const mallory = created.body.Credentials as { Token: string };

        // the attacker's copy
        const rows = await backend.rows(dataDir);
        const saved = (await rows.all()).filter((r) => !isAudit(r.key));
        const cpKeys = (await rows.all()).filter((r) => r.key.startsWith(`audit/${encodeURIComponent(chain)}/c/`)).map((r) => r.key).sort();
        const lastCheckpoint = JSON.parse((await rows.all()).find((r) => r.key === cpKeys[cpKeys.length - 1])!.value.toString('utf8')) as { seq: number; head: string };

        // the owner's changes
        expect((await callTarget(t.url, 'Keyward.DestroyKeyVersion', { KeyId: keyId, Version: 1 }, admin)).status).toBe(200);
        expect((await callTarget(t.url, 'TrentService.DisableKey', { KeyId: keyId }, admin)).status).toBe(200);
        expect((await callTarget(t.url, 'Keyward.DeletePrincipal', { Name: 'mallory' }, admin)).status).toBe(200);
        const rekey = await fetch(`${t.url}/v1/sys/rekey`, {
          method: 'POST', headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ passphrase: TEST_PASSPHRASE, new_passphrase: 'the owner changed it' }),
        });
        expect(rekey.status).toBe(200);
        expect((await callTarget(t.url, 'Keyward.GetCallerIdentity', {}, { token: mallory.Token })).status).not.toBe(200);
        await t.close();
        t = undefined;

        // the rollback: every state row back as it was, rows made since gone, the chain cut back
        const now = await rows.all();
        const savedKeys = new Set(saved.map((r) => r.key));
        for (const r of now) if (!isAudit(r.key) && !savedKeys.has(r.key)) await rows.del(r.key);
        for (const r of saved) await rows.set(r.key, r.value, r.version);
        const prefix = `audit/${encodeURIComponent(chain)}/`;
        for (const r of now) {
          if (!r.key.startsWith(`${prefix}r/`) && !r.key.startsWith(`${prefix}c/`)) continue;
          if (Number(r.key.slice(r.key.lastIndexOf('/') + 1)) > lastCheckpoint.seq) await rows.del(r.key);
        }
        const head = now.find((r) => r.key === `${prefix}head`)!;
        await rows.set(`${prefix}head`, Buffer.from(JSON.stringify({ seq: lastCheckpoint.seq, hash: lastCheckpoint.head })), head.version + 1);
        await rows.close();

        // the old passphrase unseals the old seal record; then the node compares with its anchor
        t = await startTestServer({ dataDir, init: false, admin, config: { ...backend.config } });
        expect(await unseal(t.url)).toBe(200);
        expect((await health(t.url)).body.node).toBe(chain);
        const decrypt = await callTarget(t.url, 'TrentService.Decrypt', { CiphertextBlob: Buffer.from(ct).toString('base64') }, admin);
        expect(decrypt.body.__type).toBe('RollbackDetectedException');
        expect(decrypt.status).toBe(503);
        expect(String(decrypt.body.message)).toMatch(/Rollback detected/);
        const restored = await callTarget(t.url, 'Keyward.GetCallerIdentity', {}, { token: mallory.Token });
        expect(restored.body.__type).toBe('RollbackDetectedException');
        const h = await health(t.url);
        expect(h.status).toBe(503);
        expect(h.body.rollback_detected).toBe(true);
        const status = await (await fetch(`${t.url}/v1/sys/seal-status`)).json() as { rollback?: { detected: boolean; findings: string[] } };
        expect(status.rollback?.detected).toBe(true);
        expect(status.rollback!.findings.join(' ')).toMatch(/epoch \d+ but this node has seen epoch \d+/);

        // the audit log says what happened: truncated past the record the anchor saw
        const report = await verifyAudit(t.url, { token: admin.token }, { Chain: chain });
        expect(report.ok).toBe(false);
        expect(report.breaks.filter((b) => b.kind === 'rolled-back')).toEqual([expect.objectContaining({ chain, message: expect.stringMatching(/anchor saw/) })]);

        // the operator accepts the restored store on this node; the node serves again
        const accept = await keyward(['audit', 'accept-rollback', '--data-dir', dataDir, ...(backend.storeFlag !== undefined ? ['--store', backend.storeFlag] : [])], {});
        expect(accept.stderr).not.toMatch(/error/i);
        expect(accept.code).toBe(0);
        expect(JSON.parse(accept.stdout)).toMatchObject({ accepted: true });
        const after = await t.kms.send(new DecryptCommand({ CiphertextBlob: ct }));
        expect(Buffer.from(after.Plaintext!).toString()).toBe('before');
        expect((await health(t.url)).status).toBe(200);
      } finally {
        await t?.close();
        rmSync(dataDir, { recursive: true, force: true });
        await backend.cleanup();
      }
    }, 180_000);

    it('a whole audit chain deleted (its rows and its index entry) is detected as missing', async () => {
      const backend = await open();
      const dataDir = tempDir();
      const otherDir = tempDir();
      let t: TestServer | undefined;
      let other: TestServer | undefined;
      try {
        t = await startTestServer({ dataDir, config: { ...backend.config, nodeId: 'node-keep', rollbackCheckMs: 1000 } });
        // another node (own data directory, same store) writes its chain, then stops
        other = await startTestServer({ dataDir: otherDir, init: false, admin: t.admin, config: { ...backend.config, ...sameSqlite(backend, dataDir), nodeId: 'node-gone' } });
        expect(await unseal(other.url)).toBe(200);
        const keyId = (await other.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
        await other.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }));
        await other.close();
        other = undefined;
        // this node's anchor learns the other chain at its periodic check
        const anchorFile = () => readdirSync(dataDir).find((f) => /^anchor-[0-9a-f]+\.json$/.test(f));
        expect(await eventually(() => {
          const f = anchorFile();
          return f !== undefined && (JSON.parse(readFileSync(join(dataDir, f), 'utf8')) as { chains: Record<string, unknown> }).chains['node-gone'] !== undefined;
        }, 60_000, 100)).toBe(true);
        expect((await verifyAudit(t.url, { token: t.admin.token })).ok).toBe(true);

        const rows = await backend.rows(dataDir);
        for (const r of await rows.all()) if (r.key.startsWith('audit/node-gone/') || r.key === 'audit-chains/node-gone') await rows.del(r.key);
        await rows.close();

        const report = await verifyAudit(t.url, { token: t.admin.token });
        expect(report.breaks.find((b) => b.chain === 'node-gone')).toMatchObject({ kind: 'missing-chain' });
        expect(await eventually(async () => (await health(t!.url)).body.rollback_detected === true, 60_000, 100)).toBe(true);
        const refused = await callTarget(t.url, 'TrentService.Encrypt', { KeyId: keyId, Plaintext: Buffer.from('y').toString('base64') }, t.admin);
        expect(refused.body.__type).toBe('RollbackDetectedException');
        expect(String(refused.body.message)).toContain('node-gone');
      } finally {
        await other?.close();
        await t?.close();
        rmSync(dataDir, { recursive: true, force: true });
        rmSync(otherDir, { recursive: true, force: true });
        await backend.cleanup();
      }
    }, 180_000);
  });
}

/** A second node on the same SQLite file (its own data directory for its anchor and node id). */
function sameSqlite(backend: RollbackBackend, dataDir: string): ConfigInput {
  return backend.config.store === undefined ? { store: `sqlite:${join(dataDir, 'keyward.db')}` } : {};
}

