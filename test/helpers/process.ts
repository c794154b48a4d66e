import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll } from 'vitest';

export const BIN = resolve(import.meta.dirname, '../../bin/keyward.js');
const execFileP = promisify(execFile);

export interface KeywardProcess {
  readonly proc: ChildProcess;
  readonly url: string;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `keyward <args>` and waits for its "listening on URL" line (bounded). */
export async function spawnKeyward(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 20_000, cwd?: string): Promise<KeywardProcess> {
  const proc = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...(cwd !== undefined ? { cwd } : {}) });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`keyward did not start within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const check = () => {
      const m = /keyward listening on (https?:\/\/[^\s]+?)(?: and |\s|$)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveUrl(m[1]!);
      }
    };
    proc.stdout!.on('data', check);
    proc.stderr!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`keyward exited with ${code} before listening:\n${out}`));
    });
  });
  return {
    proc,
    url,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/**
 * For one describe block: `keyward server` processes and SDK clients that are all stopped after
 * the block, and then `dir` removed.
 */
export function processesIn(dir: string): {
  spawn(args: string[], env: NodeJS.ProcessEnv): Promise<KeywardProcess>;
  keep<T extends { destroy(): void }>(client: T): T;
} {
  const running: KeywardProcess[] = [];
  const clients: Array<{ destroy(): void }> = [];
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await Promise.all(running.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    async spawn(args, env) {
      const p = await spawnKeyward(args, env);
      running.push(p);
      return p;
    },
    keep(client) {
      clients.push(client);
      return client;
    },
  };
}

/** Runs a one-shot `keyward` command; resolves with its output whatever the exit code. */
export async function keyward(args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = execFileP(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (input !== undefined) {
    child.child.stdin!.end(input);
  } else {
    child.child.stdin!.end();
  }
  try {
    const r = await child;
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/**
 * Environment that makes a `keyward` process's clock follow the offset (ms) written in `file`
 * (test/helpers/clock-offset.mjs, a test-only preload; nothing in src/ reads it).
 */
export function clockOffsetEnv(file: string): NodeJS.ProcessEnv {
  return { NODE_OPTIONS: `--import=${pathToFileURL(resolve(import.meta.dirname, 'clock-offset.mjs')).href}`, KEYWARD_TEST_CLOCK_FILE: file };
}
