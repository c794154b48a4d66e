import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyward, spawnKeyward, type KeywardProcess } from '../../helpers/process.js';
import { tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';
import { eventually } from '../../helpers/wait.js';

const FAST = { KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1', KEYWARD_LOG_LEVEL: 'warn' };

describe('keyward scope and --grpc, against a real server process', () => {
  const dir = tempDir();
  const dataDir = join(dir, 'data');
  let server: KeywardProcess;
  let env: NodeJS.ProcessEnv;
  let grpcAddress: string;

  beforeAll(async () => {
    const init = await keyward(['init', '--data-dir', dataDir, '--json'], { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    expect(init.code, init.stderr).toBe(0);
    const creds = JSON.parse(init.stdout) as { token: string };
    server = await spawnKeyward(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--grpc-listen', '127.0.0.1:0'], { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    expect(await eventually(() => /keyward gRPC listening on /.test(server.output()), 10_000)).toBe(true);
    grpcAddress = /keyward gRPC listening on (\S+)/.exec(server.output())![1]!;
    env = { KEYWARD_ENDPOINT: server.url, KEYWARD_TOKEN: creds.token, KEYWARD_GRPC_ENDPOINT: grpcAddress };
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('encrypts with a scope over gRPC and decrypts over HTTP, rotates, and reports usage', async () => {
    const enc = await keyward(['scope', 'encrypt', '--tenant', 'default', '--scope', 'cli/app', '--context', 'env=prod', '--grpc'], env, 'scoped secret');
    expect(enc.code, enc.stderr).toBe(0);
    const dec = await keyward(['scope', 'decrypt', '--scope', 'cli/app', '--context', 'env=prod'], env, enc.stdout);
    expect(dec.code, dec.stderr).toBe(0);
    expect(dec.stdout).toBe('scoped secret');
    const rotated = JSON.parse((await keyward(['scope', 'rotate', '--scope', 'cli/app', '--grpc', grpcAddress], env)).stdout) as { Version: number; KeyVersionId: string };
    expect(rotated.Version).toBe(2);
    // the old ciphertext still opens, over gRPC this time
    const old = await keyward(['scope', 'decrypt', '--scope', 'cli/app', '--context', 'env=prod', '--grpc'], env, enc.stdout);
    expect(old.stdout).toBe('scoped secret');
    const json = JSON.parse((await keyward(['scope', 'encrypt', '--scope', 'cli/app', '--json'], env, 'x')).stdout) as { KeyVersionId: string };
    expect(json.KeyVersionId).toBe(rotated.KeyVersionId);
    const info = JSON.parse((await keyward(['scope', 'info', '--scope', 'cli/app', '--grpc'], env)).stdout) as Record<string, unknown>;
    expect(info).toMatchObject({ Version: 2, EncryptionCount: 1, MaxEncryptions: 2 ** 30, Status: 'active' });
  });

  it('the data commands take --grpc too, and errors carry the registry code', async () => {
    const key = JSON.parse((await keyward(['key', 'create', '--description', 'grpc cli'], env)).stdout) as { KeyMetadata: { KeyId: string } };
    const enc = await keyward(['encrypt', '--key', key.KeyMetadata.KeyId, '--context', 'a=1', '--grpc'], env, 'via grpc');
    expect(enc.code, enc.stderr).toBe(0);
    expect((await keyward(['decrypt', '--context', 'a=1'], env, enc.stdout)).stdout).toBe('via grpc');
    const wrong = await keyward(['decrypt', '--context', 'a=2', '--grpc'], env, enc.stdout);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^error: InvalidCiphertextException: /);
    const gdk = JSON.parse((await keyward(['generate-data-key', '--key', key.KeyMetadata.KeyId, '--grpc'], env)).stdout) as { Plaintext: string };
    expect(Buffer.from(gdk.Plaintext, 'base64')).toHaveLength(32);
    const bad = await keyward(['scope', 'encrypt', '--scope', 'no spaces', '--grpc'], env, 'x');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/ValidationException: .*scopeId/i);
    const anonymous = await keyward(['scope', 'info', '--scope', 'cli/app', '--grpc'], { KEYWARD_GRPC_ENDPOINT: grpcAddress });
    expect(anonymous.stderr).toMatch(/MissingAuthenticationTokenException/);
  });
});
