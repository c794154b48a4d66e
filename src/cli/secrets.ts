import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
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
