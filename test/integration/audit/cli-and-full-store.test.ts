import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyward, spawnKeyward, type KeywardProcess } from '../../helpers/process.js';
import { tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';

const FAST = { KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1' };
const CHAIN = 'node-cli-audit';

/** The `keyward audit` commands against a real server process, and that process's disk filling up. */
describe('keyward audit commands and a full disk', () => {
  const dir = tempDir('keyward-audit-cli-');
  const dataDir = join(dir, 'data');
  let server: KeywardProcess;
  let env: NodeJS.ProcessEnv;
  let keyId = '';

  beforeAll(async () => {
    const init = await keyward(['init', '--data-dir', dataDir, '--json'], { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    expect(init.code, init.stderr).toBe(0);
    const creds = JSON.parse(init.stdout) as { access_key_id: string; secret_access_key: string };
    server = await spawnKeyward(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE, KEYWARD_NODE_ID: CHAIN, KEYWARD_AUDIT_CHECKPOINT_RECORDS: '5' });
    env = { KEYWARD_ENDPOINT: server.url, AWS_ACCESS_KEY_ID: creds.access_key_id, AWS_SECRET_ACCESS_KEY: creds.secret_access_key };
    const created = await keyward(['key', 'create'], env);
    keyId = (JSON.parse(created.stdout) as { KeyMetadata: { KeyId: string } }).KeyMetadata.KeyId;
    for (let i = 0; i < 3; i++) expect((await keyward(['encrypt', '--key', keyId, '--context', 'order=cli-secret-value'], env, 'hello')).code).toBe(0);
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('tail, search, hash, public-key and verify', async () => {
    const tail = await keyward(['audit', 'tail', '-n', '2'], env);
    expect(tail.code, tail.stderr).toBe(0);
    expect((JSON.parse(tail.stdout) as unknown[]).length).toBe(2);

    const search = await keyward(['audit', 'search', '--op', 'Encrypt', '--key', keyId, '--principal', 'admin', '--since', '2000-01-01T00:00:00Z'], env);
    const found = JSON.parse(search.stdout) as Array<{ op: string; keyId: string; request: Record<string, string> }>;
    expect(found.length).toBe(3);
    expect(found.every((r) => r.op === 'Encrypt' && r.keyId === keyId)).toBe(true);
    expect(JSON.parse((await keyward(['audit', 'search', '--op', 'Encrypt', '--until', '2000-01-01T00:00:00Z'], env)).stdout)).toEqual([]);

    const hash = await keyward(['audit', 'hash'], env, 'cli-secret-value\n');
    expect(found[0]!.request['EncryptionContext.order']).toBe(hash.stdout.trim());

    const pem = await keyward(['audit', 'public-key'], env);
    expect(pem.stdout).toContain('BEGIN PUBLIC KEY');
    const pub = join(dir, 'audit.pub');
    writeFileSync(pub, pem.stdout);
    const verify = await keyward(['audit', 'verify', '--public-key', pub, '--chain', CHAIN], env);
    expect(verify.code, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, firstBreak: null });
    const fromSeq = await keyward(['audit', 'verify', '--from', '4', '--chain', CHAIN], env);
    expect(JSON.parse(fromSeq.stdout).chains[0].firstSeq).toBe(4);

    const bad = await keyward(['audit', 'search', '--since', 'yesterday'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--since must be an ISO 8601 time');
  });

  it('with the disk full (soft RLIMIT_FSIZE 0 on the server), key operations fail clearly and resume after', async () => {
    const pid = String(server.proc.pid);
    execFileSync('prlimit', ['--pid', pid, '--fsize=0:unlimited']);
    try {
      const r = await keyward(['encrypt', '--key', keyId], env, 'while full');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/AuditUnavailableException: The request was refused because the audit log could not record it/);
    } finally {
      execFileSync('prlimit', ['--pid', pid, '--fsize=unlimited:unlimited']);
    }
    const again = await keyward(['encrypt', '--key', keyId], env, 'after');
    expect(again.code, again.stderr).toBe(0);
    const verify = await keyward(['audit', 'verify', '--chain', CHAIN], env);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true });
  });
});
