import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { devNull } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startInProcessKeyward } from '../lib/in-process-keyward.js';
import { keywardBin } from '../lib/paths.js';
import type { BenchContext, BenchRow, BenchScenario } from '../lib/types.js';
import { opensslGcm16k, writeRandomFile, fsyncPath } from './file-encryption.js';

const execFileP = promisify(execFile);
const MiB = 2 ** 20;
const AGE = '/usr/bin/age';
const AGE_KEYGEN = '/usr/bin/age-keygen';
const TIME = '/usr/bin/time';

/** Debian's age, installed with apt-get when missing (the bench's only system dependency here). */
function ensureAge(log: (m: string) => void): void {
  if (existsSync(AGE) && existsSync(AGE_KEYGEN)) return;
  log('installing Debian\'s age (apt-get install -y age)');
  const r = spawnSync('apt-get', ['install', '-y', 'age'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0 || !existsSync(AGE)) throw new Error('age is missing and apt-get install -y age failed: install it to run this scenario');
}

interface Run { readonly seconds: number; readonly rssMiB: number }

/** One whole command: wall-clock seconds from spawn to exit, and its peak RSS (GNU time's %M). */
function timed(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    const child = spawn(TIME, ['-f', '%M', command, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - t) / 1e9;
      if (code !== 0) {
        reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${err.trim()}`));
        return;
      }
      const kib = Number(err.trim().split('\n').pop());
      resolve({ seconds, rssMiB: kib / 1024 });
    });
  });
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const round3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * A plain Node.js program doing only the file's cryptography: node's start, then the file read in
 * 256 KiB segments, each sealed with node:crypto's AES-256-GCM on this one thread (64 KiB updates,
 * as the envelope does) and written to the output. No command line, no KMS call, no header: what
 * a Node.js command costs before it does anything of its own (the file goals against age).
 */
const NODE_FLOOR = `
const { createCipheriv, createHash, randomBytes } = require('node:crypto');
const { openSync, readSync, writevSync, fstatSync } = require('node:fs');
createHash('sha256').update('\\0'.repeat(512 * 1024), 'latin1'); // the CLI's malloc threshold (commands/file.ts)
const [input, output] = process.argv.slice(-2);
const inFd = openSync(input, 'r'), outFd = openSync(output, 'w'), size = fstatSync(inFd).size;
const key = randomBytes(32), segment = Buffer.allocUnsafe(256 * 1024);
for (let at = 0, i = 0; at < size; at += segment.length, i++) {
  const n = readSync(inFd, segment, 0, segment.length, at);
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32BE(i, 7);
  const c = createCipheriv('aes-256-gcm', key, nonce), pieces = [];
  for (let u = 0; u < n; u += 65536) pieces.push(c.update(segment.subarray(u, Math.min(n, u + 65536))));
  c.final();
  pieces.push(c.getAuthTag());
  writevSync(outFd, pieces);
}`;

/**
 * `keyward encrypt-file` / `decrypt-file` as whole commands (node start, module loading, the
 * GenerateDataKey or Decrypt call to a Keyward in the bench process, the file) against Debian's
 * `age -r` / `age -d` on the same file, to /dev/null, in interleaved rounds; the floor is
 * `openssl speed -evp aes-256-gcm` on one core, as the time to push the file through it, and the
 * plain Node.js script above (NODE_FLOOR) is what any Node.js command pays on the same file.
 * `keyward --version` against `node -e 0` (node's own start).
 */
export const cliFiles: BenchScenario = {
  name: 'CLI file commands vs age',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    ensureAge(ctx.log);
    const sizes = ctx.quick ? [100 * MiB] : [1024 * MiB, 100 * MiB];
    const kw = await startInProcessKeyward(ctx);
    const env = {
      ...process.env,
      KEYWARD_ENDPOINT: kw.server.url,
      AWS_ACCESS_KEY_ID: kw.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: kw.credentials.secretAccessKey,
      AWS_REGION: 'us-east-1',
    };
    const bin = keywardBin();
    const identity = join(ctx.tmpDir, 'age.key');
    execFileSync(AGE_KEYGEN, ['-o', identity], { stdio: 'ignore' });
    const recipient = /age1[0-9a-z]+/.exec(readFileSync(identity, 'utf8'))![0];
    const rows: BenchRow[] = [];
    try {
      // start-up: node alone and keyward --version
      const start = { node: [] as number[], version: [] as number[], versionRss: [] as number[] };
      for (let r = 0; r < Math.max(5, ctx.rounds * 3); r++) {
        start.node.push((await timed(process.execPath, ['-e', '0'], env)).seconds);
        const v = await timed(process.execPath, [bin, '--version'], env);
        start.version.push(v.seconds);
        start.versionRss.push(v.rssMiB);
      }
      const versionMs = median(start.version) * 1000;
      rows.push({
        scenario: 'keyward --version, whole command', unit: 'ms', value: Math.round(versionMs),
        baseline: { name: 'node -e 0', value: Math.round(median(start.node) * 1000) }, ratio: round3(median(start.version) / median(start.node)),
        goal: { text: '< 150 ms', met: versionMs < 150 }, notes: `peak RSS ${median(start.versionRss).toFixed(1)} MiB`,
      });

      for (const size of sizes) {
        const label = size >= 1024 * MiB ? `${size / 1024 / MiB} GiB` : `${size / MiB} MiB`;
        const plain = join(ctx.tmpDir, `cli-${size}.plain`);
        const sealed = join(ctx.tmpDir, `cli-${size}.kwe`);
        const aged = join(ctx.tmpDir, `cli-${size}.age`);
        await writeRandomFile(plain, size);
        fsyncPath(plain);
        // asynchronously: the Keyward the CLI calls runs in this process's event loop
        await execFileP(process.execPath, [bin, 'encrypt-file', '--in', plain, '--out', sealed, '--key', kw.keyId], { env });
        await execFileP(AGE, ['-r', recipient, '-o', aged, plain]);
        const subjects = {
          keywardEncrypt: () => timed(process.execPath, [bin, 'encrypt-file', '--in', plain, '--out', devNull, '--key', kw.keyId], env),
          keywardEncrypt2: () => timed(process.execPath, [bin, 'encrypt-file', '--in', plain, '--out', devNull, '--key', kw.keyId, '--threads', '2'], env),
          ageEncrypt: () => timed(AGE, ['-r', recipient, '-o', devNull, plain], env),
          keywardDecrypt: () => timed(process.execPath, [bin, 'decrypt-file', '--in', sealed, '--out', devNull], env),
          keywardDecrypt2: () => timed(process.execPath, [bin, 'decrypt-file', '--in', sealed, '--out', devNull, '--threads', '2'], env),
          ageDecrypt: () => timed(AGE, ['-d', '-i', identity, '-o', devNull, aged], env),
          nodeFloor: () => timed(process.execPath, ['-e', NODE_FLOOR, plain, devNull], env),
        };
        const results = Object.fromEntries(Object.keys(subjects).map((k) => [k, [] as Run[]])) as Record<keyof typeof subjects, Run[]>;
        const openssl: number[] = [];
        for (const name of Object.keys(subjects) as Array<keyof typeof subjects>) await subjects[name](); // warm-up: page cache
        for (let r = 0; r < Math.max(3, ctx.rounds); r++) {
          for (const name of Object.keys(subjects) as Array<keyof typeof subjects>) {
            const run = await subjects[name]();
            results[name].push(run);
            ctx.log(`  ${label} round ${r + 1}: ${name} ${run.seconds.toFixed(3)} s, ${run.rssMiB.toFixed(1)} MiB`);
          }
          openssl.push(await opensslGcm16k(1));
        }
        const opensslSec = size / MiB / median(openssl);
        const t = (name: keyof typeof subjects) => median(results[name].map((x) => x.seconds));
        const rss = (name: keyof typeof subjects) => Math.max(...results[name].map((x) => x.rssMiB));
        const big = size >= 1024 * MiB;
        const timeGoal = (ratio: number) => (big ? { text: 'faster than age (ratio < 1)', met: ratio < 1 } : { text: 'within 2x of age (ratio <= 2)', met: ratio <= 2 });
        const cmdRow = (scenario: string, k: keyof typeof subjects, age: keyof typeof subjects, goal: boolean): BenchRow => {
          const ratio = t(k) / t(age);
          return {
            scenario, unit: 's', value: round3(t(k)), baseline: { name: `age ${age === 'ageEncrypt' ? '-r' : '-d'} (Debian), same file`, value: round3(t(age)) }, ratio: round3(ratio),
            ...(goal ? { goal: timeGoal(ratio) } : {}),
            notes: `${label} to /dev/null, whole command; peak RSS ${rss(k).toFixed(1)} MiB (age ${rss(age).toFixed(1)} MiB)`,
          };
        };
        const rssRow = (scenario: string, k: keyof typeof subjects): BenchRow => ({
          scenario, unit: 'MiB', value: Math.round(rss(k) * 10) / 10, goal: { text: '<= 64 MB peak RSS', met: rss(k) * MiB <= 64e6 },
          notes: `highest of ${results[k].length} rounds, GNU time %M`,
        });
        rows.push(
          cmdRow(`keyward encrypt-file ${label} (default threads)`, 'keywardEncrypt', 'ageEncrypt', true),
          cmdRow(`keyward encrypt-file ${label}, --threads 2`, 'keywardEncrypt2', 'ageEncrypt', false),
          cmdRow(`keyward decrypt-file ${label} (default threads)`, 'keywardDecrypt', 'ageDecrypt', true),
          cmdRow(`keyward decrypt-file ${label}, --threads 2`, 'keywardDecrypt2', 'ageDecrypt', false),
          rssRow(`keyward encrypt-file ${label}: peak RSS (default threads)`, 'keywardEncrypt'),
          rssRow(`keyward encrypt-file ${label}: peak RSS, --threads 2`, 'keywardEncrypt2'),
          rssRow(`keyward decrypt-file ${label}: peak RSS (default threads)`, 'keywardDecrypt'),
          rssRow(`keyward decrypt-file ${label}: peak RSS, --threads 2`, 'keywardDecrypt2'),
          {
            scenario: `plain Node.js: node start + node:crypto AES-256-GCM of the file, one thread: ${label}`, unit: 's', value: round3(t('nodeFloor')),
            baseline: { name: 'age -r (Debian), same file', value: round3(t('ageEncrypt')) }, ratio: round3(t('nodeFloor') / t('ageEncrypt')),
            notes: `${label} to /dev/null: node -e, read / seal / write in 256 KiB segments; no command line, KMS call or header (node -e 0 alone: see the --version row)`,
          },
          {
            scenario: `openssl speed AES-256-GCM, one core: ${label} (the floor)`, unit: 's', value: round3(opensslSec),
            notes: `${Math.round(median(openssl))} MiB/s, openssl speed -elapsed -evp aes-256-gcm -bytes 16384, no I/O and no start`,
          },
        );
        for (const p of [plain, sealed, aged]) rmSync(p, { force: true });
      }
      return rows;
    } finally {
      await kw.close();
    }
  },
};
