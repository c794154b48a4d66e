import { CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { startServer } from '../../../src/server.js';
import { errorOf } from '../../helpers/errors.js';
import { callTarget } from '../../helpers/keyward-api.js';
import { FAST_ARGON2, initViaHttp, tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';

describe('secrets hygiene of the server process', () => {
  it('logs at trace level carry no plaintext, data key, token, secret or passphrase, even for failures', async () => {
    const dir = tempDir();
    const logFile = join(dir, 'server.log');
    const log = pino({ level: 'trace' }, pino.destination({ dest: logFile, sync: true }));
    const server = await startServer(loadConfig({ dataDir: dir, listen: '127.0.0.1:0', ...FAST_ARGON2 }, {}), { log });
    const secrets: string[] = [TEST_PASSPHRASE];
    try {
      const admin = await initViaHttp(server.url);
      secrets.push(admin.secretAccessKey, admin.token);
      const kms = new KMSClient({ endpoint: server.url, region: 'us-east-1', credentials: admin, maxAttempts: 1 });
      const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
      const plaintext = 'plaintext that must never be logged';
      secrets.push(plaintext, Buffer.from(plaintext).toString('base64'));
      const blob = (await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(plaintext), EncryptionContext: { ctx: 'context-value-secret' } }))).CiphertextBlob!;
      await kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { ctx: 'context-value-secret' } }));
      const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }));
      secrets.push(Buffer.from(dk.Plaintext!).toString('base64'), Buffer.from(dk.Plaintext!).toString('hex'));
      const user = await callTarget(server.url, 'Keyward.CreatePrincipal', { Name: 'u' }, admin);
      const uc = user.body.Credentials as { SecretAccessKey: string; Token: string };
      secrets.push(uc.SecretAccessKey, uc.Token);
      // failures: wrong passphrase, bad token, and a record tampered in the store (a server-side fault that is logged)
      await fetch(`${server.url}/v1/sys/unseal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: 'wrong passphrase 123' }) });
      secrets.push('wrong passphrase 123');
      await callTarget(server.url, 'Keyward.GetCallerIdentity', {}, { token: `${uc.Token}x` });
      const { store } = server.installation;
      const path = `keys/default/${keyId}`;
      const entry = (await store.get(path))!;
      const bad = Buffer.from(entry.value);
      bad[bad.length - 1]! ^= 1;
      await store.put(path, bad);
      expect((await errorOf(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(plaintext) })))).name).toBe('IntegrityException');
      kms.destroy();
    } finally {
      await server.close();
      log.flush();
    }
    const text = readFileSync(logFile, 'utf8');
    expect(text).toContain('"msg":"listening"');
    expect(text).toContain('IntegrityException');
    for (const s of secrets) expect(text.includes(s), `log contains ${s.slice(0, 6)}...`).toBe(false);
    expect(text).not.toContain('context-value-secret');
    rmSync(dir, { recursive: true, force: true });
  });

  it('graceful shutdown zeroes cached key material and the keyring', async () => {
    const dir = tempDir();
    const server = await startServer(loadConfig({ dataDir: dir, listen: '127.0.0.1:0', logLevel: 'silent', ...FAST_ARGON2 }, {}));
    const admin = await initViaHttp(server.url);
    const kms = new KMSClient({ endpoint: server.url, region: 'us-east-1', credentials: admin, maxAttempts: 1 });
    const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('warm the cache') }));
    kms.destroy();
    const { keyring } = server.installation;
    const material = await keyring.keys.material(await keyring.tenants.require('default'), keyId, 1);
    const derivation = keyring.barrier.tenantDerivationKey();
    expect(material!.some((b) => b !== 0)).toBe(true);
    await server.close();
    await tick();
    expect(material!.every((b) => b === 0)).toBe(true);
    expect(derivation.every((b) => b === 0)).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  });
});
