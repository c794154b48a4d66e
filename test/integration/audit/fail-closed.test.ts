import { CreateKeyCommand, DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf } from '../../helpers/errors.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { verifyAudit } from '../../helpers/audit.js';

/**
 * Fail closed: when the store refuses writes, no request is answered without its audit record:
 * even Encrypt and Decrypt, which need no store write of their own, fail with a clear error; and
 * everything resumes when the store accepts writes again, with the chain intact.
 */
describe('audit fail closed', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ config: { nodeId: 'node-fail-closed' } });
  });
  // The store's files made immutable (chattr +i): every write, even through the connections the
  // server already holds open, fails (EPERM), as on a volume remounted read-only.
  const files = () => ['keyward.db', 'keyward.db-wal'].map((f) => join(t.dataDir, f)).filter((f) => existsSync(f));
  const readOnly = (on: boolean) => {
    for (const f of files()) execFileSync('chattr', [on ? '+i' : '-i', f]);
  };
  afterAll(async () => t?.close());

  it('key operations fail with AuditUnavailableException while the store is read-only, and resume after', async () => {
    const keyId = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const blob = (await t.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('before') }))).CiphertextBlob!;

    readOnly(true);
    try {
      // Encrypt and Decrypt need no store write of their own: only the audit log stops them.
      for (const attempt of [
        () => t.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('during') })),
        () => t.kms.send(new DecryptCommand({ CiphertextBlob: blob })),
      ]) {
        const e = await errorOf(attempt());
        expect(e.name).toBe('AuditUnavailableException');
        expect(e.message).toContain('audit log could not record it');
        expect((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(503);
      }
      // CreateKey fails on its own write first, and keeps that error.
      const created = await errorOf(t.kms.send(new CreateKeyCommand({})));
      expect(created.name).toBe('DependencyTimeoutException');
    } finally {
      readOnly(false);
    }

    const after = await t.kms.send(new DecryptCommand({ CiphertextBlob: blob }));
    expect(Buffer.from(after.Plaintext!).toString()).toBe('before');
    const report = await verifyAudit(t.url, { token: t.admin.token }, { Chain: 'node-fail-closed' });
    expect(report.firstBreak).toBeNull();
    // none of the refused requests left a record: the last ones are the successful Encrypt and Decrypt
    const records = (await t.server.installation.audit.query({ limit: 1000 })).records;
    expect(records.map((r) => `${r.op}:${r.result}`).slice(-3)).toEqual(['Encrypt:OK', 'Decrypt:OK', 'VerifyAudit:OK']);
  });
});
