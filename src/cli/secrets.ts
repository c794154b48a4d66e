import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { Writable } from 'node:stream';

/**
 * Secrets reach the CLI from the environment, a file or a no-echo prompt: never from argv,
 * where every user of the machine can read them (ps, /proc).
 */
export class SecretError extends Error {}

export function readSecretFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (e) {
    throw new SecretError(`cannot read the ${what} file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Prompts on the terminal without echoing what is typed. */
export async function promptHidden(question: string): Promise<string> {
  // loaded here: every command that connects imports this file and few of them prompt (a file
  // command's start skips readline's modules)
  const { createInterface } = await import('node:readline');
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  try {
    const answer = new Promise<string>((resolve) => rl.question(question, resolve));
    muted = true;
    const value = await answer;
    process.stderr.write('\n');
    return value;
  } finally {
    rl.close();
  }
}

export interface PassphraseSource {
  readonly passphraseFile?: string;
}

/**
 * KEYWARD_PASSPHRASE, else --passphrase-file, else a prompt when stdin is a terminal.
 * Returns undefined when none is available (non-interactive, nothing configured).
 */
export async function passphrase(source: PassphraseSource, options: { confirm?: boolean; prompt?: boolean } = {}): Promise<string | undefined> {
  if (source.passphraseFile !== undefined) return readSecretFile(source.passphraseFile, 'passphrase');
  const env = process.env.KEYWARD_PASSPHRASE;
  if (env !== undefined && env !== '') return env;
  if (options.prompt === false || !process.stdin.isTTY) return undefined;
  const first = await promptHidden('Passphrase: ');
  if (options.confirm) {
    const again = await promptHidden('Repeat passphrase: ');
    if (again !== first) throw new SecretError('the passphrases do not match');
  }
  return first;
}

/**
 * Takes a secret out of the environment as bytes: the variable is removed (children and
 * `process.env` no longer see it) and, on Linux, its text in the process's initial environment
 * block (what /proc/PID/environ shows, which unsetenv leaves in place) is overwritten with zeros.
 * Read from that block, the value never becomes a JavaScript string. The caller zeroes the Buffer.
 */
export function takeEnvSecret(name: string): Buffer | undefined {
  let value: Buffer | undefined;
  try {
    value = scrubEnvironBlock(name);
  } catch {
    value = undefined; // not Linux, or /proc unreadable: fall back to process.env below
  }
  if (value === undefined && process.env[name] !== undefined) value = Buffer.from(process.env[name]!, 'utf8');
  delete process.env[name];
  if (value !== undefined && value.length === 0) return undefined;
  return value;
}

/** A /proc file (size 0 to stat) read into one Buffer, so no partial copies are left unzeroed. */
function readWhole(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    let buf = Buffer.alloc(64 * 1024);
    let used = 0;
    for (;;) {
      if (used === buf.length) {
        const bigger = Buffer.alloc(buf.length * 2);
        buf.copy(bigger);
        buf.fill(0);
        buf = bigger;
      }
      const n = readSync(fd, buf, used, buf.length - used, used);
      if (n === 0) return buf.subarray(0, used);
      used += n;
    }
  } finally {
    closeSync(fd);
  }
}

/** Copies NAME's value out of the initial environment block and zeroes `NAME=VALUE` there. */
function scrubEnvironBlock(name: string): Buffer | undefined {
  const block = readWhole('/proc/self/environ');
  try {
    const prefix = Buffer.from(`${name}=`);
    let at = 0;
    while (at < block.length) {
      let end = block.indexOf(0, at);
      if (end < 0) end = block.length;
      if (end - at >= prefix.length && block.subarray(at, at + prefix.length).equals(prefix)) {
        const value = Buffer.from(block.subarray(at + prefix.length, end));
        // fields 50 and 51 of /proc/self/stat: where the environment block starts and ends
        const fields = readFileSync('/proc/self/stat', 'latin1').split(') ')[1]!.split(' ');
        const envStart = Number(fields[47]);
        if (Number.isSafeInteger(envStart) && envStart > 0) {
          const fd = openSync('/proc/self/mem', 'r+');
          try {
            writeSync(fd, Buffer.alloc(end - at), 0, end - at, envStart + at);
          } finally {
            closeSync(fd);
          }
        }
        return value;
      }
      at = end + 1;
    }
    return undefined;
  } finally {
    block.fill(0);
  }
}

/** A secret file's bytes without the final newline (the caller zeroes the Buffer). */
export function readSecretFileBytes(path: string, what: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new SecretError(`cannot read the ${what} file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 0x0a) end--;
  if (end > 0 && bytes[end - 1] === 0x0d) end--;
  if (end === bytes.length) return bytes;
  const out = Buffer.from(bytes.subarray(0, end));
  bytes.fill(0);
  return out;
}

/**
 * The server's passphrase as bytes (the server keeps it no longer than it must and zeroes it):
 * --passphrase-file, else KEYWARD_PASSPHRASE (taken out of the environment), else a prompt.
 */
export async function passphraseBytes(source: PassphraseSource, taken?: { readonly env: Buffer | undefined }): Promise<Buffer | undefined> {
  // the variable leaves the environment whichever source wins
  const fromEnv = taken !== undefined ? taken.env : takeEnvSecret('KEYWARD_PASSPHRASE');
  if (source.passphraseFile !== undefined) {
    fromEnv?.fill(0);
    return readSecretFileBytes(source.passphraseFile, 'passphrase');
  }
  if (fromEnv !== undefined) return fromEnv;
  if (!process.stdin.isTTY) return undefined;
  return Buffer.from(await promptHidden('Passphrase: '), 'utf8');
}
