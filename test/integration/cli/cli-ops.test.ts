import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeywardApiError, KeywardClient, KeywardConnectionError } from '../../../src/client/index.js';
import { parseTransitCredentials } from '../../../src/server.js';
import { keyward, spawnKeyward, type KeywardProcess } from '../../helpers/process.js';
import { tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';

const FAST = { KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1', KEYWARD_LOG_LEVEL: 'warn' };

describe('the CLI for scripts and for people (issue 21, item 10)', () => {
  const dir = tempDir();
  const dataDir = join(dir, 'data');
  let server: KeywardProcess;
  let env: NodeJS.ProcessEnv;
  let port: string;

  beforeAll(async () => {
    const init = await keyward(['init', '--data-dir', dataDir, '--json'], { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    expect(init.code, init.stderr).toBe(0);
    const creds = JSON.parse(init.stdout) as { token: string };
    server = await spawnKeyward(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    port = new URL(server.url).port;
    // no scheme: accepted (http for a loopback host)
    env = { KEYWARD_ENDPOINT: `127.0.0.1:${port}`, KEYWARD_TOKEN: creds.token };
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('--query prints one bare field, --output text prints tab-separated fields, dates are ISO 8601', async () => {
    const id = await keyward(['key', 'create', '--description', 'q', '--query', 'KeyMetadata.KeyId'], env);
    expect(id.code, id.stderr).toBe(0);
    expect(id.stdout).toMatch(/^[0-9a-f-]{36}\n$/);
    const keyId = id.stdout.trim();

    const json = JSON.parse((await keyward(['key', 'describe', keyId], env)).stdout) as { KeyMetadata: { CreationDate: unknown } };
    expect(json.KeyMetadata.CreationDate).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);

    const text = await keyward(['--output', 'text', 'key', 'describe', keyId], env);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`KeyMetadata.KeyId\t${keyId}\n`);
    expect(text.stdout).toMatch(/KeyMetadata\.CreationDate\t\d{4}-\d{2}-\d{2}T/);

    const ids = await keyward(['key', 'list', '--query', '[].KeyId', '--output', 'text'], env);
    expect(ids.stdout.split('\n')).toContain(keyId);
    const created = await keyward(['key', 'describe', keyId, '--query', 'KeyMetadata.CreationDate'], env);
    expect(created.stdout).toMatch(/^\d{4}-\d{2}-\d{2}T.*Z\n$/);

    const missing = await keyward(['key', 'describe', keyId, '--query', 'KeyMetadata.Nope'], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--query KeyMetadata.Nope');
    const badFormat = await keyward(['key', 'describe', keyId, '--output', 'yaml'], env);
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toContain('--output must be json or text');
  });

  it('names an unknown flag in the error', async () => {
    const r = await keyward(['key', 'create', '--rotation-period-in-days', '90'], env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("unknown option '--rotation-period-in-days'");
  });

  it('change-passphrase refuses while a server runs on the data directory', async () => {
    const r = await keyward(['change-passphrase', '--data-dir', dataDir], { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE, KEYWARD_NEW_PASSPHRASE: 'another long passphrase 42' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/a Keyward server \(pid \d+\) is running/);
    // and the server still unseals with the old passphrase: nothing changed
    const status = await keyward(['status'], env);
    expect(JSON.parse(status.stdout)).toMatchObject({ sealed: false });
  });

  it('explains a refused connection, in the CLI and in keyward/client', async () => {
    const refused = { ...env, KEYWARD_ENDPOINT: 'http://127.0.0.1:9', KEYWARD_MAX_ATTEMPTS: '1' };
    const r = await keyward(['key', 'list'], refused);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Cannot reach Keyward at http://127.0.0.1:9: connection refused');
    const client = new KeywardClient({ endpoint: '127.0.0.1:9', credentials: { token: 'x' }, maxAttempts: 1 });
    try {
      const e = await client.send('TrentService.ListKeys').catch((x: unknown) => x);
      expect(e).toBeInstanceOf(KeywardConnectionError);
      expect(e).toBeInstanceOf(KeywardApiError);
      expect((e as KeywardApiError).code).toBe('ECONNREFUSED');
      expect((e as Error).message).toContain('is the server running');
    } finally {
      client.close();
    }
    expect(() => new KeywardClient({ endpoint: 'ftp://127.0.0.1:9' })).toThrow(/must be http/);
    expect(new KeywardClient({ endpoint: 'kms.example.com:9123' }).endpoint.protocol).toBe('https:');
  });
});

describe('init and seals', () => {
  const dir = tempDir();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a failed init leaves no keyward.db behind', async () => {
    const dataDir = join(dir, 'failed');
    const r = await keyward(['init', '--data-dir', dataDir, '--seal', 'static'], { ...FAST });
    expect(r.code).not.toBe(0);
    expect(existsSync(join(dataDir, 'keyward.db'))).toBe(false);
    expect(existsSync(dataDir) ? readdirSync(dataDir).filter((f) => f.startsWith('keyward.db')) : []).toEqual([]);
    // and a second attempt succeeds
    const keyFile = join(dir, 'root.key');
    writeFileSync(keyFile, `${'ab'.repeat(32)}\n`, { mode: 0o600 });
    const ok = await keyward(['init', '--data-dir', dataDir, '--seal', 'static', '--root-key-file', keyFile, '--json'], { ...FAST });
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('warns at start when the static seal is in use', async () => {
    const dataDir = join(dir, 'failed');
    const p = await spawnKeyward(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--root-key-file', join(dir, 'root.key')], { ...FAST });
    try {
      expect(p.output()).toContain('the static seal is in use');
    } finally {
      await p.stop();
    }
  });

  it('the transit seal reads its credentials file as principal create prints it', () => {
    const printed = JSON.stringify({ Principal: { Name: 'unsealer', Role: 'user' }, Credentials: { AccessKeyId: 'AKIDEXAMPLE1', SecretAccessKey: 'secret1', Token: 'tok' } }, null, 2);
    expect(parseTransitCredentials(printed, 'f')).toEqual({ accessKeyId: 'AKIDEXAMPLE1', secretAccessKey: 'secret1' });
    expect(parseTransitCredentials('{"access_key_id":"A","secret_access_key":"S"}', 'f')).toEqual({ accessKeyId: 'A', secretAccessKey: 'S' });
    expect(() => parseTransitCredentials('{"Credentials":{}}', 'f')).toThrow(/lacks access_key_id/);
  });
});
