/**
 * The README runs as written: its shell blocks (```sh, ```bash) and its JavaScript blocks (```js)
 * run in order, in one bash session, against a fresh `keyward dev` server (what `npm start` runs),
 * with /usr/bin/aws, openssl and `npx keyward`, as a new user would type them.
 *
 * Skip convention (for blocks that cannot run here: other machines, HSMs, servers of their own):
 * put this HTML comment on the line right before the block's opening fence, with a reason:
 *
 *     <!-- readme-test: skip (starts a second server on a fixed port) -->
 *
 * Keep skips few. What the runner changes, and nothing else: the server listens on a free port,
 * so `127.0.0.1:9123` (HTTP) and `127.0.0.1:9124` (gRPC) in the blocks are replaced by the ports
 * it got (and KEYWARD_ENDPOINT / KEYWARD_GRPC_ENDPOINT name them, for the clients' defaults); the
 * first block (`npm ci && npm start`, `npm ci && npm test`) is not run, the runner starts the
 * server itself; the working directory is a fresh temporary one whose node_modules links `keyward` (as
 * `npm ci` does in a clone: `npx keyward` and `import 'keyward/client'` resolve to this checkout).
 * A JavaScript block must print something (a snippet that prints nothing shows nothing to a reader).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnKeyward, type KeywardProcess } from '../../helpers/process.js';
import { tempDir } from '../../helpers/server.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const SKIP = /^<!--\s*readme-test:\s*skip\b.*-->\s*$/;

export interface ReadmeBlock {
  readonly line: number;
  readonly lang: 'sh' | 'js';
  readonly code: string;
  readonly skipped: boolean;
}

/** The README's shell and JavaScript blocks, in order, with their skip marks. */
export function readmeBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split('\n');
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (open === null) continue;
    let end = i + 1;
    while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++;
    const lang = open[1] === 'sh' || open[1] === 'bash' || open[1] === 'shell' ? 'sh' : open[1] === 'js' || open[1] === 'javascript' ? 'js' : undefined;
    if (lang !== undefined) {
      let prev = i - 1;
      while (prev >= 0 && lines[prev]!.trim() === '') prev--;
      blocks.push({ line: i + 1, lang, code: lines.slice(i + 1, end).join('\n'), skipped: prev >= 0 && SKIP.test(lines[prev]!.trim()) });
    }
    i = end;
  }
  return blocks;
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}

/** One bash script: each block announced, JavaScript blocks run by node and required to print. */
function script(blocks: readonly ReadmeBlock[], httpPort: number, grpcPort: number): string {
  const ports = (code: string) => code.replaceAll('127.0.0.1:9123', `127.0.0.1:${httpPort}`).replaceAll('127.0.0.1:9124', `127.0.0.1:${grpcPort}`);
  const parts = ['set -eo pipefail'];
  for (const [i, b] of blocks.entries()) {
    // the first block is `npm ci && npm start` / `npm ci && npm test`: the runner starts the server itself
    if (b.skipped || i === 0) continue;
    parts.push(`echo "::readme block at line ${b.line}::" >&2`);
    if (b.lang === 'sh') {
      parts.push(ports(b.code));
    } else {
      parts.push(`out=$(node --input-type=module <<'KEYWARD_README_JS'\n${ports(b.code)}\nKEYWARD_README_JS\n)`);
      parts.push(`if [ -z "$out" ]; then echo "the JavaScript block at line ${b.line} printed nothing" >&2; exit 1; fi; printf '%s\\n' "$out"`);
    }
  }
  parts.push('echo "::readme done::" >&2');
  return `${parts.join('\n')}\n`;
}

describe('README.md runs as written', () => {
  const work = tempDir('keyward-readme-');
  let server: KeywardProcess | undefined;
  afterAll(async () => {
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('finds its blocks and their skip marks', () => {
    const blocks = readmeBlocks('a\n<!-- readme-test: skip (needs an HSM) -->\n```sh\nx\n```\n\n```js\ny\n```\n```text\nz\n```\n');
    expect(blocks).toEqual([{ line: 3, lang: 'sh', code: 'x', skipped: true }, { line: 7, lang: 'js', code: 'y', skipped: false }]);
  });

  it('starts with the two commands a new user types', () => {
    const first = readmeBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'))[0]!;
    expect(first.code.split('\n').map((l) => l.replace(/\s+#.*$/, '').trim())).toEqual(['npm ci && npm start', 'npm ci && npm test']);
  });

  it('runs every block that is not marked, in order, against a fresh server', async () => {
    const blocks = readmeBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    const skipped = blocks.filter((b) => b.skipped).length;
    // a block that starts a server of its own would run in the foreground until the timeout (and on
    // the default port, beside other tests): such blocks must be marked
    const starting = blocks.filter((b, i) => i > 0 && !b.skipped && /^\s*(npx )?keyward (server|dev)\b|^\s*npm start\b/m.test(b.code)).map((b) => b.line);
    expect(starting, 'README blocks that start a server need <!-- readme-test: skip (reason) -->').toEqual([]);
    // skips stay few: most of the README must run
    expect(skipped).toBeLessThanOrEqual(Math.ceil(blocks.length * 0.6));

    // as `npm ci` leaves a clone: the package and its bin resolvable from the working directory
    const modules = join(work, 'node_modules');
    mkdirSync(join(modules, '.bin'), { recursive: true });
    symlinkSync(ROOT, join(modules, 'keyward'));
    symlinkSync(join(ROOT, 'bin', 'keyward.js'), join(modules, '.bin', 'keyward'));
    for (const scope of ['@aws-sdk', '@grpc']) symlinkSync(join(ROOT, 'node_modules', scope), join(modules, scope));
    // the AWS CLI v2 of the machine (/usr/bin/aws), ahead of any other `aws` on the PATH
    mkdirSync(join(work, 'bin'));
    symlinkSync('/usr/bin/aws', join(work, 'bin', 'aws'));

    const [httpPort, grpcPort] = [await freePort(), await freePort()];
    const env = { HOME: work, KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1', KEYWARD_LOG_LEVEL: 'warn' };
    // `npm start` is `keyward dev`: started here on free ports, in the working directory
    server = await spawnKeyward(['dev', '--listen', `127.0.0.1:${httpPort}`, '--grpc-listen', `127.0.0.1:${grpcPort}`], env, 60_000, work);

    const file = join(work, 'readme.sh');
    writeFileSync(file, script(blocks, httpPort, grpcPort));
    // the clients' default endpoints (127.0.0.1:9123 and :9124) point at the free ports as well
    const run = await bash(file, work, {
      ...env, PATH: `${join(work, 'bin')}:${join(modules, '.bin')}:${process.env.PATH ?? ''}`,
      KEYWARD_ENDPOINT: `http://127.0.0.1:${httpPort}`, KEYWARD_GRPC_ENDPOINT: `127.0.0.1:${grpcPort}`,
    });
    const last = /::readme block at line (\d+)::(?![\s\S]*::readme block)/.exec(run.stderr)?.[1];
    expect(run.code, `README block at line ${last ?? '?'} failed:\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-3000)}`).toBe(0);
    expect(run.stderr).toContain('::readme done::');
    // the quick start's decryption printed the plaintext back
    expect(run.stdout).toContain('card 4111');
  }, 600_000);
});

function bash(file: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    // its own process group: whatever a block leaves running (a `&` job) is stopped with it
    const child = spawn('bash', [file], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const killGroup = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(killGroup, 540_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      killGroup();
      done({ code, stdout, stderr });
    });
  });
}
