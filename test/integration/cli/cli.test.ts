import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyward, spawnKeyward, type KeywardProcess } from '../../helpers/process.js';
import { tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';

const FAST = { KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1', KEYWARD_LOG_LEVEL: 'warn' };

describe('the keyward CLI, end to end against a real server process', () => {
  const dir = tempDir();
  const dataDir = join(dir, 'data');
  let server: KeywardProcess;
  let env: NodeJS.ProcessEnv;
  let creds: { access_key_id: string; secret_access_key: string; token: string; credentials_file: string };

  beforeAll(async () => {
    const init = await keyward(['init', '--data-dir', dataDir, '--json'], { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    expect(init.code, init.stderr).toBe(0);
    creds = JSON.parse(init.stdout) as typeof creds;
    server = await spawnKeyward(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    env = { KEYWARD_ENDPOINT: server.url, AWS_ACCESS_KEY_ID: creds.access_key_id, AWS_SECRET_ACCESS_KEY: creds.secret_access_key };
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('init wrote the admin credentials to a 0600 file and refuses a second init', async () => {
    expect(statSync(creds.credentials_file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(creds.credentials_file, 'utf8')).access_key_id).toBe(creds.access_key_id);
    expect(statSync(join(dataDir, 'keyward.db')).mode & 0o077).toBe(0);
    const again = await keyward(['init', '--data-dir', dataDir], { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already initialized');
  });

  it('status, key management, aliases and versions', async () => {
    expect(JSON.parse((await keyward(['status'], env)).stdout)).toMatchObject({ initialized: true, sealed: false });
    const created = JSON.parse((await keyward(['key', 'create', '--description', 'cli key', '--tag', 'team=a'], env)).stdout);
    const keyId = created.KeyMetadata.KeyId as string;
    expect((await keyward(['alias', 'create', 'alias/cli', keyId], env)).code).toBe(0);
    expect(JSON.parse((await keyward(['key', 'describe', 'alias/cli'], env)).stdout).KeyMetadata.Description).toBe('cli key');
    expect(JSON.parse((await keyward(['key', 'list'], env)).stdout).map((k: { KeyId: string }) => k.KeyId)).toContain(keyId);
    expect((await keyward(['key', 'rotate', keyId], env)).code).toBe(0);
    const versions = JSON.parse((await keyward(['key', 'versions', keyId], env)).stdout);
    expect(versions.PrimaryVersion).toBe(2);
    expect(JSON.parse((await keyward(['alias', 'list', '--key', keyId], env)).stdout).map((a: { AliasName: string }) => a.AliasName)).toEqual(['alias/cli']);
    expect(JSON.parse((await keyward(['key', 'tags', keyId], env)).stdout)).toEqual([{ TagKey: 'team', TagValue: 'a' }]);
    const disabled = await keyward(['key', 'disable', keyId], env);
    expect(disabled.code).toBe(0);
    const refused = await keyward(['encrypt', '--key', keyId], env, 'x');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('DisabledException');
    expect((await keyward(['key', 'enable', keyId], env)).code).toBe(0);
    expect((await keyward(['key', 'destroy-version', keyId, 'one'], env)).code).toBe(2);
  });

  it('encrypt / decrypt / re-encrypt / generate-data-key, plaintext from stdin and files, never argv', async () => {
    const keyId = JSON.parse((await keyward(['key', 'create'], env)).stdout).KeyMetadata.KeyId as string;
    const enc = await keyward(['encrypt', '--key', keyId, '--context', 'app=cli'], env, 'piped secret');
    expect(enc.code, enc.stderr).toBe(0);
    const dec = await keyward(['decrypt', '--context', 'app=cli'], env, enc.stdout);
    expect(dec.stdout).toBe('piped secret');
    const wrong = await keyward(['decrypt', '--context', 'app=other'], env, enc.stdout);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('InvalidCiphertextException');

    const inFile = join(dir, 'plain.bin');
    const blobFile = join(dir, 'blob.bin');
    const outFile = join(dir, 'out.bin');
    writeFileSync(inFile, Buffer.from([0, 1, 2, 255]));
    expect((await keyward(['encrypt', '--key', keyId, '--in', inFile, '--out', blobFile], env)).code).toBe(0);
    expect(readFileSync(blobFile)[0]).toBe(0x01);
    const other = JSON.parse((await keyward(['key', 'create'], env)).stdout).KeyMetadata.KeyId as string;
    const re = await keyward(['re-encrypt', '--in', blobFile, '--destination-key', other], env);
    expect(re.code, re.stderr).toBe(0);
    expect((await keyward(['decrypt', '--out', outFile], env, re.stdout)).code).toBe(0);
    expect([...readFileSync(outFile)]).toEqual([0, 1, 2, 255]);

    const dk = JSON.parse((await keyward(['generate-data-key', '--key', keyId], env)).stdout);
    expect(Buffer.from(dk.Plaintext, 'base64')).toHaveLength(32);
    const keyFile = join(dir, 'datakey.bin');
    expect((await keyward(['decrypt', '--out', keyFile], env, dk.CiphertextBlob)).code).toBe(0);
    expect(readFileSync(keyFile).equals(Buffer.from(dk.Plaintext, 'base64'))).toBe(true);
  });

  it('principals and tenants; a user token cannot manage keys', async () => {
    const p = JSON.parse((await keyward(['principal', 'create', 'worker', '--role', 'user'], env)).stdout);
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, p.Credentials.Token);
    const userEnv = { KEYWARD_ENDPOINT: server.url };
    expect(JSON.parse((await keyward(['whoami', '--token-file', tokenFile], userEnv)).stdout)).toMatchObject({ Name: 'worker', Role: 'user' });
    const denied = await keyward(['key', 'create', '--token-file', tokenFile], userEnv);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('AccessDeniedException');
    expect((await keyward(['tenant', 'create', 'team-b'], env)).code).toBe(0);
    expect(JSON.parse((await keyward(['tenant', 'list'], env)).stdout).map((x: { TenantId: string }) => x.TenantId)).toEqual(['default', 'team-b']);
    expect(JSON.parse((await keyward(['principal', 'list'], env)).stdout).map((x: { Name: string }) => x.Name).sort()).toEqual(['admin', 'worker']);
    expect((await keyward(['principal', 'delete', 'worker'], env)).code).toBe(0);
    expect((await keyward(['whoami', '--token-file', tokenFile], userEnv)).stderr).toContain('UnrecognizedClientException');
  });

  it('seal and unseal through the CLI (passphrase from a file), and clear usage errors', async () => {
    expect(JSON.parse((await keyward(['seal'], env)).stdout).sealed).toBe(true);
    const refused = await keyward(['key', 'list'], env);
    expect(refused.stderr).toContain('SealedException');
    const pf = join(dir, 'pass');
    writeFileSync(pf, `${TEST_PASSPHRASE}\n`);
    const unsealed = await keyward(['unseal', '--passphrase-file', pf], { KEYWARD_ENDPOINT: server.url });
    expect(JSON.parse(unsealed.stdout).sealed).toBe(false);
    const noPass = await keyward(['unseal'], { KEYWARD_ENDPOINT: server.url });
    expect(noPass.code).toBe(2);
    expect(noPass.stderr).toContain('no passphrase');
    expect((await keyward(['frobnicate'], env)).code).not.toBe(0);
    const unreachable = await keyward(['status', '--endpoint', 'http://127.0.0.1:1'], {});
    expect(unreachable.stderr).toMatch(/cannot reach Keyward/i);
  });

  it('SIGTERM shuts the server down cleanly', async () => {
    const other = await spawnKeyward(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    expect(await other.stop('SIGTERM')).toBe(0);
  });
});
