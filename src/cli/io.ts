import { readFileSync, writeFileSync } from 'node:fs';
import { text } from 'node:stream/consumers';
import { InvalidCiphertextError, KeywardApiError, KeywardUsageError } from '../client/errors.js';

/** How results are printed: `--output json|text` and `--query PATH` (global flags, set before a command runs). */
export interface OutputOptions {
  readonly output?: string;
  readonly query?: string;
}

let outputFormat: 'json' | 'text' = 'json';
let outputQuery: string | undefined;

export function setOutput(options: OutputOptions): void {
  if (options.output !== undefined && options.output !== 'json' && options.output !== 'text') {
    throw new UsageError(`--output must be json or text, got ${JSON.stringify(options.output)}`);
  }
  outputFormat = options.output === 'text' ? 'text' : 'json';
  if (options.query !== undefined) parseQuery(options.query);
  outputQuery = options.query;
}

/**
 * Prints a result: indented JSON (default) or text (`--output text`: one `field<TAB>value` line per
 * field, one line per list item), dates as ISO 8601. With `--query PATH` only that field: a single
 * value is printed bare (a key id for scripts: `KEY=$(keyward key create --query KeyMetadata.KeyId)`).
 */
export function printJson(value: unknown): void {
  let v = isoDates(value);
  if (outputQuery !== undefined) {
    v = select(v, outputQuery);
    if (v === undefined) throw new UsageError(`--query ${outputQuery}: the output has no such field`);
    if (v === null || typeof v !== 'object') {
      process.stdout.write(`${String(v)}\n`);
      return;
    }
  }
  process.stdout.write(outputFormat === 'text' ? textOf(v) : `${JSON.stringify(v, null, 2)}\n`);
}

/** Fields that hold AWS epoch-second timestamps (CreationDate, DeletionDate, ValidTo, ...). */
const DATE_FIELD = /(Date|^ValidTo|^NotBefore|^NotAfter|_date|^server_time_utc)$/;

function isoDates(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => isoDates(v));
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, isoDates(v, k)]));
  }
  // seconds since the epoch between 1973 and 5138: surely a date, never a count or a size
  if (typeof value === 'number' && DATE_FIELD.test(key) && value > 1e8 && value < 1e11) return new Date(value * 1000).toISOString();
  return value;
}

type Step = { readonly field: string } | { readonly index: number } | { readonly all: true };

/** `A.B`, `A[0].B`, `A[].B` (every item). */
function parseQuery(query: string): Step[] {
  const steps: Step[] = [];
  const re = /([A-Za-z0-9_-]+)|\[(\d*)\]|\./g;
  let at = 0;
  for (const m of query.matchAll(re)) {
    if (m.index !== at) break;
    at = m.index + m[0].length;
    if (m[1] !== undefined) steps.push({ field: m[1] });
    else if (m[2] !== undefined) steps.push(m[2] === '' ? { all: true } : { index: Number(m[2]) });
  }
  if (at !== query.length || steps.length === 0) {
    throw new UsageError(`--query must be a field path such as KeyMetadata.KeyId, Keys[0].KeyId or Keys[].KeyId, got ${JSON.stringify(query)}`);
  }
  return steps;
}

function select(value: unknown, query: string): unknown {
  const walk = (v: unknown, steps: readonly Step[]): unknown => {
    if (steps.length === 0 || v === undefined) return v;
    const [step, ...rest] = steps as [Step, ...Step[]];
    if ('all' in step) return Array.isArray(v) ? v.map((x) => walk(x, rest)) : undefined;
    if ('index' in step) return Array.isArray(v) ? walk(v[step.index], rest) : undefined;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? walk((v as Record<string, unknown>)[step.field], rest) : undefined;
  };
  return walk(value, parseQuery(query));
}

function scalar(v: unknown): string {
  return v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** Dotted paths to every scalar of an object. */
function flatten(value: unknown, prefix: string, out: Array<[string, string]>): Array<[string, string]> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix === '' ? k : `${prefix}.${k}`, out);
  } else if (Array.isArray(value) && value.some((x) => x !== null && typeof x === 'object')) {
    value.forEach((x, i) => flatten(x, `${prefix}[${i}]`, out));
  } else {
    out.push([prefix, Array.isArray(value) ? value.map(scalar).join('\t') : scalar(value)]);
  }
  return out;
}

function textOf(value: unknown): string {
  if (Array.isArray(value)) {
    return value.map((item) => (item !== null && typeof item === 'object' ? flatten(item, '', []).map(([, v]) => v).join('\t') : scalar(item))).join('\n') + (value.length > 0 ? '\n' : '');
  }
  if (value !== null && typeof value === 'object') return flatten(value, '', []).map(([k, v]) => `${k}\t${v}\n`).join('');
  return `${scalar(value)}\n`;
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
