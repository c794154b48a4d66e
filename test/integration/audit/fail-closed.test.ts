import { CreateKeyCommand, DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import type Database from 'better-sqlite3';
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
  let writeDb: Database.Database;
  beforeAll(async () => {
    t = await startTestServer({ config: { nodeId: 'node-fail-closed' } });
    // The server's own write connection (SqliteStore keeps it private): PRAGMA query_only makes
    // the store refuse every write with SQLITE_READONLY, as a read-only file or volume would.
    writeDb = (t.server.installation.store as unknown as { writeDb: Database.Database }).writeDb;
  });
  afterAll(async () => t?.close());

  it('key operations fail with AuditUnavailableException while the store is read-only, and resume after', async () => {
    const keyId = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const blob = (await t.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('before') }))).CiphertextBlob!;

    writeDb.pragma('query_only = ON');
    try {
      for (const attempt of [
        () => t.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('during') })),
        () => t.kms.send(new DecryptCommand({ CiphertextBlob: blob })),
        () => t.kms.send(new CreateKeyCommand({})),
      ]) {
        const e = await errorOf(attempt());
        expect(e.name).toBe('AuditUnavailableException');
        expect(e.message).toContain('audit log could not record it');
        expect((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(503);
      }
    } finally {
      writeDb.pragma('query_only = OFF');
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
