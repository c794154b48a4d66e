import { readFileSync, writeFileSync } from 'node:fs';
import { text } from 'node:stream/consumers';
import { InvalidCiphertextError, KeywardApiError, KeywardUsageError } from '../client/errors.js';

/** Prints a result as indented JSON on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Reads bytes from a file, or stdin for '-' (or when no file is given). */
export async function readInput(path: string | undefined): Promise<Buffer> {
  if (path === undefined || path === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }
  return readFileSync(path);
}

export async function readText(path: string | undefined): Promise<string> {
  if (path === undefined || path === '-') return text(process.stdin);
  return readFileSync(path, 'utf8');
}

/** Writes bytes to a file, or stdout for '-' or none. */
export function writeOutput(path: string | undefined, data: Uint8Array | string): void {
  if (path === undefined || path === '-') process.stdout.write(data);
  else writeFileSync(path, data, { mode: 0o600 });
}

/** Parses repeated `k=v` flags into an encryption context or tag map. */
export function keyValues(pairs: readonly string[] | undefined, what: string): Record<string, string> | undefined {
  if (pairs === undefined || pairs.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new UsageError(`${what} must be key=value, got ${JSON.stringify(p)}`);
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}

export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export class UsageError extends Error {}

/** One line on stderr and an exit code: 1 for an error the server answered, 2 for usage. */
export function reportError(e: unknown): number {
  if (e instanceof KeywardApiError) {
    console.error(`error: ${e.code}: ${e.message}`);
    return 1;
  }
  if (e instanceof InvalidCiphertextError) {
    console.error(`error: ${e.code}: ${e.message}`);
    return 1;
  }
  if (e instanceof UsageError || e instanceof KeywardUsageError) {
    console.error(`error: ${e.message}`);
    return 2;
  }
  const err = e as { name?: string; message?: string; code?: string };
  if (err.code === 'ECONNREFUSED') {
    console.error('error: cannot reach Keyward (connection refused); is the server running? Set --endpoint or KEYWARD_ENDPOINT.');
    return 1;
  }
  console.error(`error: ${err.message ?? String(e)}`);
  return err.name === 'ConfigError' || err.name === 'SecretError' ? 2 : 1;
}
