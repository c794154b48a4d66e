import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, keyward, spawnKeyward, type KeywardProcess } from '../../helpers/process.js';
import { tempDir, TEST_PASSPHRASE } from '../../helpers/server.js';

const FAST = { KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1', KEYWARD_LOG_LEVEL: 'warn' };

/** Runs keyward with binary stdin/stdout (the string helper would mangle bytes). */
function keywardBinary(args: string[], env: NodeJS.ProcessEnv, input: Buffer): { code: number; stdout: Buffer; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, input, maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr.toString() };
}

describe('keyward encrypt-file / decrypt-file against a real server process', () => {
  const dir = tempDir();
  const dataDir = join(dir, 'data');
  let server: KeywardProcess;
  let env: NodeJS.ProcessEnv;
  let keyId: string;

  beforeAll(async () => {
    const init = await keyward(['init', '--data-dir', dataDir, '--json'], { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    expect(init.code, init.stderr).toBe(0);
    const creds = JSON.parse(init.stdout) as { access_key_id: string; secret_access_key: string };
    server = await spawnKeyward(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    env = { KEYWARD_ENDPOINT: server.url, AWS_ACCESS_KEY_ID: creds.access_key_id, AWS_SECRET_ACCESS_KEY: creds.secret_access_key };
    keyId = JSON.parse((await keyward(['key', 'create'], env)).stdout).KeyMetadata.KeyId as string;
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('file to file round trip with a context; the envelope is 0600 and names no plaintext', async () => {
    const plain = join(dir, 'plain.bin');
    const data = randomBytes(3 * 65536 + 17);
    writeFileSync(plain, data);
    const enc = await keyward(['encrypt-file', '--in', plain, '--out', join(dir, 'plain.kwe'), '--key', keyId, '--context', 'app=backup', '--context', 'host=a'], env);
    expect(enc.code, enc.stderr).toBe(0);
    expect(enc.stderr).toBe(''); // no progress bar without a terminal
    const sealed = readFileSync(join(dir, 'plain.kwe'));
    expect(sealed.subarray(0, 4).toString('latin1')).toBe('KWE\u0001');
    expect(sealed.includes(data.subarray(0, 32))).toBe(false);
    expect(statSync(join(dir, 'plain.kwe')).mode & 0o777).toBe(0o600);
    const dec = await keyward(['decrypt-file', '--in', join(dir, 'plain.kwe'), '--out', join(dir, 'back.bin'), '--context', 'host=a', '--context', 'app=backup'], env);
    expect(dec.code, dec.stderr).toBe(0);
    expect(readFileSync(join(dir, 'back.bin')).equals(data)).toBe(true);
  });

  it('stdin to stdout with -, both ways', () => {
    const data = randomBytes(200_001);
    const enc = keywardBinary(['encrypt-file', '--in', '-', '--out', '-', '--key', keyId, '--segment-size', '4096'], env, data);
    expect(enc.code, enc.stderr).toBe(0);
    const dec = keywardBinary(['decrypt-file', '--in', '-', '--out', '-'], env, enc.stdout);
    expect(dec.code, dec.stderr).toBe(0);
    expect(dec.stdout.equals(data)).toBe(true);
  });

  it('--out /dev/stdout with stdout a shell pipe writes into the pipe (no temporary file, nothing renamed)', () => {
    const plain = join(dir, 'devstdout.bin');
    writeFileSync(plain, randomBytes(100_000));
    // a real pipe (node's own child stdio is a socket, which cannot be opened by path)
    const sh = (cmd: string) => spawnSync('sh', ['-c', cmd], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
    const enc = sh(`${process.execPath} ${BIN} encrypt-file --in ${plain} --out /dev/stdout --key ${keyId} | cat > ${join(dir, 'devstdout.kwe')}`);
    expect(enc.status, enc.stderr).toBe(0);
    const dec = sh(`${process.execPath} ${BIN} decrypt-file --in ${join(dir, 'devstdout.kwe')} --out /dev/stdout | cat > ${join(dir, 'devstdout.out')}`);
    expect(dec.status, dec.stderr).toBe(0);
    expect(readFileSync(join(dir, 'devstdout.out')).equals(readFileSync(plain))).toBe(true);
    expect(readdirSync('/dev').filter((n) => n.includes('.partial'))).toEqual([]);
  });

  it('a wrong context or a tampered file fails with InvalidCiphertextException and leaves no output file', async () => {
    const plain = join(dir, 'p2.bin');
    writeFileSync(plain, randomBytes(100_000));
    expect((await keyward(['encrypt-file', '--in', plain, '--out', join(dir, 'p2.kwe'), '--key', keyId, '--context', 'a=b'], env)).code).toBe(0);
    const wrong = await keyward(['decrypt-file', '--in', join(dir, 'p2.kwe'), '--out', join(dir, 'p2.out'), '--context', 'a=c'], env);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('InvalidCiphertextException');
    const sealed = readFileSync(join(dir, 'p2.kwe'));
    writeFileSync(join(dir, 'p2-truncated.kwe'), sealed.subarray(0, sealed.length - 100));
    const truncated = await keyward(['decrypt-file', '--in', join(dir, 'p2-truncated.kwe'), '--out', join(dir, 'p2.out'), '--context', 'a=b'], env);
    expect(truncated.code).toBe(1);
    expect(truncated.stderr).toContain('InvalidCiphertextException');
    expect(existsSync(join(dir, 'p2.out'))).toBe(false);
    expect(readdirSync(dir).filter((n) => n.includes('.partial'))).toEqual([]);
  });

  it('shows a progress bar when stderr is a terminal (under script(1)), and not with --no-progress', async () => {
    const plain = join(dir, 'tty.bin');
    writeFileSync(plain, randomBytes(3 << 20));
    const run = (extra: string) => spawnSync('script', ['-qec', `${process.execPath} ${BIN} encrypt-file --in ${plain} --out ${join(dir, 'tty.kwe')} --key ${keyId} ${extra}`, '/dev/null'], {
      env: { PATH: process.env.PATH ?? '', TERM: 'xterm', ...env }, encoding: 'utf8',
    });
    const withBar = run('');
    expect(withBar.status, withBar.stdout).toBe(0);
    expect(withBar.stdout).toMatch(/100% \| 3145728\/3145728 bytes/);
    const without = run('--no-progress');
    expect(without.status).toBe(0);
    expect(without.stdout).not.toMatch(/bytes/);
    const dec = await keyward(['decrypt-file', '--in', join(dir, 'tty.kwe'), '--out', join(dir, 'tty.out')], env);
    expect(dec.code, dec.stderr).toBe(0);
    expect(readFileSync(join(dir, 'tty.out')).equals(readFileSync(plain))).toBe(true);
  });

  it('a file of 32 MiB and more goes through worker threads: progress reaches 100%, /dev/null stays a device', async () => {
    const plain = join(dir, 'big.bin');
    writeFileSync(plain, randomBytes((32 << 20) + 12345));
    const bar = spawnSync('script', ['-qec', `${process.execPath} ${BIN} encrypt-file --in ${plain} --out ${join(dir, 'big.kwe')} --key ${keyId} --threads 2 --context a=b`, '/dev/null'], {
      env: { PATH: process.env.PATH ?? '', TERM: 'xterm', ...env }, encoding: 'utf8',
    });
    expect(bar.status, bar.stdout).toBe(0);
    expect(bar.stdout).toMatch(new RegExp(`100% \\| ${(32 << 20) + 12345}/${(32 << 20) + 12345} bytes`));
    const toNull = await keyward(['encrypt-file', '--in', plain, '--out', '/dev/null', '--key', keyId], env);
    expect(toNull.code, toNull.stderr).toBe(0);
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
    const dec = await keyward(['decrypt-file', '--in', join(dir, 'big.kwe'), '--out', join(dir, 'big.out'), '--context', 'a=b', '--threads', '3'], env);
    expect(dec.code, dec.stderr).toBe(0);
    expect(readFileSync(join(dir, 'big.out')).equals(readFileSync(plain))).toBe(true);
    const badThreads = await keyward(['decrypt-file', '--in', join(dir, 'big.kwe'), '--out', join(dir, 'x.out'), '--threads', 'many'], env);
    expect(badThreads.code).not.toBe(0);
    expect(badThreads.stderr).toMatch(/--threads/);
  });

  it('usage errors are clear: missing --key, a missing input file, a bad segment size', async () => {
    const noKey = await keyward(['encrypt-file', '--in', '-', '--out', '-'], env, '');
    expect(noKey.code).not.toBe(0);
    expect(noKey.stderr).toContain('--key');
    const missing = await keyward(['encrypt-file', '--in', join(dir, 'nope'), '--out', join(dir, 'x'), '--key', keyId], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no such file|ENOENT/);
    const bad = await keyward(['encrypt-file', '--in', '-', '--out', '-', '--key', keyId, '--segment-size', '3'], env, '');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/segment size/);
  });
});
