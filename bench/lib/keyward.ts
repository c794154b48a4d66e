import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BenchContext } from './types.js';
import { keywardBin } from './paths.js';
import { treeRssMiB } from './rss.js';

const execFileP = promisify(execFile);

/** The passphrase of every bench installation (scratch data only). */
export const BENCH_PASSPHRASE = 'bench passphrase, scratch data only';

export interface BenchCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly token: string;
  readonly region: string;
}

export interface KeywardInstance {
  readonly url: string;
  readonly pid: number;
  readonly dataDir: string;
  readonly admin: BenchCredentials;
  /** RSS of the server process plus its cluster workers, in MiB. */
  rssMiB(): number;
  /** Everything the server wrote to stdout and stderr. */
  output(): string;
  stop(): Promise<void>;
}

export interface StartKeywardOptions {
  /** Extra `keyward server` flags, e.g. ['--workers', '2']. */
  readonly args?: readonly string[];
  /** Extra environment (KEYWARD_* settings). */
  readonly env?: Readonly<Record<string, string>>;
  /** Flags for node itself, e.g. ['--cpu-prof', '--cpu-prof-dir=DIR']. */
  readonly nodeArgs?: readonly string[];
  /** An existing (initialised) data directory; default: a new one under ctx.tmpDir. */
  readonly dataDir?: string;
  /** Credentials of an existing data directory (required with dataDir). */
  readonly admin?: BenchCredentials;
  /** Start sealed (no passphrase in the environment): for unseal measurements. */
  readonly sealed?: boolean;
  /** Another build's bin/keyward.js (A/B comparisons); default this checkout's. */
  readonly bin?: string;
}

/** The per-principal rate limit is off: the bench measures capacity, and one principal sends all the load. */
function baseEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KEYWARD_PASSPHRASE: BENCH_PASSPHRASE, KEYWARD_LOG_LEVEL: 'warn', KEYWARD_RATE_LIMIT_PER_SECOND: '0', ...extra };
}

/** `keyward init` on a data directory (default Argon2id parameters); returns the admin credentials. */
export async function initDataDir(dataDir: string, env: Readonly<Record<string, string>> = {}, bin = keywardBin()): Promise<BenchCredentials> {
  const { stdout } = await execFileP(process.execPath, [bin, 'init', '--data-dir', dataDir, '--json'], { env: baseEnv(env), encoding: 'utf8' });
  const c = JSON.parse(stdout) as { access_key_id: string; secret_access_key: string; token: string; region: string };
  return { accessKeyId: c.access_key_id, secretAccessKey: c.secret_access_key, token: c.token, region: c.region };
}

/**
 * Starts `keyward server` as its own process (as deployed: the load generator must not share its
 * event loop) on a free loopback port, unsealed from KEYWARD_PASSPHRASE, and waits until it listens.
 */
export async function startKeyward(ctx: BenchContext, options: StartKeywardOptions = {}): Promise<KeywardInstance> {
  const dataDir = options.dataDir ?? mkdtempSync(join(ctx.tmpDir, 'keyward-'));
  let admin = options.admin;
  if (admin === undefined) {
    if (existsSync(join(dataDir, 'keyward.db'))) throw new Error(`startKeyward: ${dataDir} is initialised; pass its admin credentials`);
    admin = await initDataDir(dataDir, options.env, options.bin);
  }
  const args = [...(options.nodeArgs ?? []), options.bin ?? keywardBin(), 'server', '--data-dir', dataDir, '--listen', '127.0.0.1:0', ...(options.args ?? [])];
  const env = baseEnv(options.env);
  if (options.sealed) delete env.KEYWARD_PASSPHRASE;
  const proc = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await waitForListening(proc, 60_000);
  return {
    url,
    pid: proc.pid!,
    dataDir,
    admin,
    rssMiB: () => treeRssMiB(proc.pid!),
    output: () => outputOf(proc),
    stop: () => stopProcess(proc),
  };
}

const outputs = new WeakMap<ChildProcess, { text: string }>();

function outputOf(proc: ChildProcess): string {
  return outputs.get(proc)?.text ?? '';
}

/** Collects output and resolves with the URL of the first `keyward listening on URL` line. */
export function waitForListening(proc: ChildProcess, timeoutMs: number, pattern = /listening on (https?:\/\/[^\s]+?)(?: and |\s|$)/): Promise<string> {
  const out = { text: '' };
  outputs.set(proc, out);
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within ${timeoutMs} ms:\n${out.text}`)), timeoutMs);
    const onData = (c: Buffer) => {
      out.text += c.toString();
      if (out.text.length > 1_000_000) out.text = out.text.slice(-100_000);
      const m = pattern.exec(out.text);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before listening:\n${out.text}`));
    });
  });
}

/** SIGTERM, then SIGKILL after 10 s; resolves when the process has exited. */
export async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
