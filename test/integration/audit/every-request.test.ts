import { CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import Database from 'better-sqlite3';
import { readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { startServer } from '../../../src/server.js';
import { errorOf } from '../../helpers/errors.js';
import { callTarget } from '../../helpers/keyward-api.js';
import { FAST_ARGON2, initViaHttp, tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';

interface Rec { seq: number; op: string; result: string; principal: string | null; tenant: string | null; credential: string | null; keyId: string | null; keyVersion: number | null; transport: string; source: string; request: Record<string, string> }

/** POST over the Unix socket (the second interface). */
function socketPost(socketPath: string, target: string, body: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/', method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target, authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('every request is audited, and no record or log line holds a secret', () => {
  it('records success, failure, authentication failure, sealed refusal and rejected requests on TCP and the Unix socket, without secrets', async () => {
    const dir = tempDir();
    const logFile = join(dir, 'server.log');
    const auditFile = join(dir, 'audit.jsonl');
    const socket = join(dir, 'sock', 'keyward.sock');
    const log = pino({ level: 'trace' }, pino.destination({ dest: logFile, sync: true }));
    const chain = 'node-every-request';
    const server = await startServer(loadConfig({ dataDir: dir, listen: '127.0.0.1:0', socket, nodeId: chain, auditFile, ...FAST_ARGON2 }, {}), { log });
    const secrets: string[] = [TEST_PASSPHRASE];
    let requests = 0;
    let keyId = '';
    try {
      const admin = await initViaHttp(server.url); requests++;
      secrets.push(admin.secretAccessKey, admin.token);
      const kms = new KMSClient({ endpoint: server.url, region: 'us-east-1', credentials: admin, maxAttempts: 1 });
      keyId = (await kms.send(new CreateKeyCommand({ Description: 'description-secret-3141' }))).KeyMetadata!.KeyId!; requests++;
      const plaintext = 'plaintext-that-must-never-be-audited';
      secrets.push(plaintext, Buffer.from(plaintext).toString('base64'));
      const blob = (await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(plaintext), EncryptionContext: { tenant: 'context-value-secret-2718' } }))).CiphertextBlob!; requests++;
      secrets.push(Buffer.from(blob).toString('base64'));
      await kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { tenant: 'context-value-secret-2718' } })); requests++;
      const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' })); requests++;
      secrets.push(Buffer.from(dk.Plaintext!).toString('base64'), Buffer.from(dk.Plaintext!).toString('hex'), Buffer.from(dk.CiphertextBlob!).toString('base64'));
      const user = await callTarget(server.url, 'Keyward.CreatePrincipal', { Name: 'u' }, admin); requests++;
      const uc = user.body.Credentials as { SecretAccessKey: string; Token: string };
      secrets.push(uc.SecretAccessKey, uc.Token);
      // a failure (wrong context), an authentication failure, a denied control-plane call
      expect((await errorOf(kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { tenant: 'wrong' } })))).name).toBe('InvalidCiphertextException'); requests++;
      expect((await callTarget(server.url, 'Keyward.GetCallerIdentity', {}, { token: `${uc.Token}x` })).status).toBe(400); requests++;
      expect((await callTarget(server.url, 'TrentService.CreateKey', {}, { token: uc.Token })).body.__type).toBe('AccessDeniedException'); requests++;
      // rejected before any operation: unknown target, malformed JSON, no route
      expect((await callTarget(server.url, 'TrentService.NoSuchThing', {}, admin)).body.__type).toBe('UnknownOperationException'); requests++;
      expect((await fetch(`${server.url}/`, { method: 'POST', headers: { 'x-amz-target': 'TrentService.ListKeys' }, body: '{not json' })).status).toBe(400); requests++;
      expect((await fetch(`${server.url}/nowhere`)).status).toBe(404); requests++;
      // the Unix socket
      expect(await socketPost(socket, 'TrentService.Encrypt', JSON.stringify({ KeyId: keyId, Plaintext: Buffer.from(plaintext).toString('base64') }), admin.token)).toBe(200); requests++;
      // sealed refusal, then a wrong and a right unseal passphrase
      expect((await callTarget(server.url, 'Keyward.GetCallerIdentity', {}, { token: admin.token })).status).toBe(200); requests++;
      expect((await fetch(`${server.url}/v1/sys/seal`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${admin.token}` }, body: '{}' })).status).toBe(200); requests++;
      expect((await errorOf(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(plaintext) })))).name).toBe('SealedException'); requests++;
      await fetch(`${server.url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: 'wrong passphrase 123' }) }); requests++;
      secrets.push('wrong passphrase 123');
      expect((await fetch(`${server.url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: TEST_PASSPHRASE }) })).status).toBe(200); requests++;
      // the digest a compliance officer computes to find the context value
      const hashed = await callTarget(server.url, 'Keyward.AuditHash', { Input: 'context-value-secret-2718' }, admin); requests++;
      expect(hashed.body.Hash).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
      const found = await callTarget(server.url, 'Keyward.ListAuditRecords', { Op: 'Decrypt', Limit: 10 }, admin); requests++;
      const decrypts = found.body.Records as Rec[];
      expect(decrypts.map((r) => r.result)).toEqual(['OK', 'InvalidCiphertextException']);
      expect(decrypts[0]!.request['EncryptionContext.tenant']).toBe(hashed.body.Hash);
      expect(decrypts[0]).toMatchObject({ principal: 'admin', tenant: 'default', keyId, keyVersion: 1, transport: 'http', source: '127.0.0.1' });
      kms.destroy();
    } finally {
      await server.close();
      log.flush();
    }

    const db = new Database(join(dir, 'keyward.db'), { readonly: true });
    const rows = db.prepare<[string], { value: Buffer }>("SELECT value FROM kv WHERE key LIKE ? ORDER BY key").all(`audit/${chain}/r/%`);
    db.close();
    const records = rows.map((r) => JSON.parse(r.value.toString('utf8')) as Rec);
    // one record per request, in order (the last ListAuditRecords included)
    expect(records.length).toBe(requests);
    expect(records.map((r) => `${r.op}:${r.result}`)).toEqual([
      'Init:OK', 'CreateKey:OK', 'Encrypt:OK', 'Decrypt:OK', 'GenerateDataKey:OK', 'CreatePrincipal:OK',
      'Decrypt:InvalidCiphertextException', 'GetCallerIdentity:UnrecognizedClientException', 'CreateKey:AccessDeniedException',
      'UnknownOperation:UnknownOperationException', 'ListKeys:SerializationException', 'NoRoute:UnknownOperationException',
      'Encrypt:OK', 'GetCallerIdentity:OK', 'Seal:OK', 'Encrypt:SealedException', 'Unseal:UnsealFailedException', 'Unseal:OK',
      'AuditHash:OK', 'ListAuditRecords:OK',
    ]);
    expect(records[1]!.keyId).toBe(keyId);
    // an unknown target is recorded under a fixed name, its text only as a digest
    expect(records[9]!.request.Target).toMatch(/^sha256:[0-9a-f]{32}$/);
    expect(records[12]!.transport).toBe('http');
    expect(records[12]!.source).toBe('unix-socket');
    expect(records[7]!.credential).toMatch(/^token:hmac-sha256:/);
    expect(records[2]!.credential).toMatch(/^access-key:/);

    const auditText = [JSON.stringify(rows.map((r) => r.value.toString('utf8'))), readFileSync(auditFile, 'utf8')].join('\n');
    const logText = readFileSync(logFile, 'utf8');
    for (const s of [...secrets, 'context-value-secret-2718', 'description-secret-3141']) {
      expect(auditText.includes(s), `audit contains ${s.slice(0, 6)}...`).toBe(false);
      expect(logText.includes(s), `log contains ${s.slice(0, 6)}...`).toBe(false);
    }
    rmSync(dir, { recursive: true, force: true });
  });
});
