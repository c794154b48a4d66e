import { randomBytes } from 'node:crypto';
import { SecretText } from '../../operations/index.js';

/**
 * JSON for AWS protocol responses: Buffers become base64 strings (AWS blob members). A result with
 * SecretText members (a new principal's secret) becomes bytes, with each secret spliced in as its
 * bytes: the answer never exists as a string holding the secret. The caller zeroes those bytes
 * once they are sent.
 */
export function toJson(value: unknown): string | Buffer {
  const found: Found = { secrets: [] };
  // a copy with blobs already in base64, then a plain stringify: a replacer function would run for every member
  const json = JSON.stringify(toWire(value, found));
  if (found.marker === undefined) return json;
  const parts = json.split(`"${found.marker}"`);
  if (parts.length !== found.secrets.length + 1) throw new Error('a secret marker appeared in the answer');
  const chunks: Buffer[] = [];
  parts.forEach((part, i) => {
    chunks.push(Buffer.from(part, 'utf8'));
    const secret = found.secrets[i];
    if (secret !== undefined) chunks.push(QUOTE, jsonSafe(secret.bytes), QUOTE);
  });
  const out = Buffer.concat(chunks);
  for (const c of chunks) if (c !== QUOTE) c.fill(0);
  return out;
}

const QUOTE = Buffer.from('"');

/** The secret's bytes if they need no JSON escaping (base64 text does not), else refused. */
function jsonSafe(bytes: Buffer): Buffer {
  for (const b of bytes) if (b < 0x20 || b > 0x7e || b === 0x22 || b === 0x5c) throw new Error('a SecretText must be printable ASCII without quotes or backslashes');
  return Buffer.from(bytes);
}

/** Secrets met on the way, each replaced by a marker string no answer can otherwise hold (random per answer). */
interface Found {
  marker?: string;
  readonly secrets: SecretText[];
}

function toWire(value: unknown, found: Found): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (value instanceof SecretText) {
    found.marker ??= `@@secret-${randomBytes(12).toString('hex')}@@`;
    found.secrets.push(value);
    return found.marker;
  }
  if (Array.isArray(value)) return value.map((v) => toWire(v, found));
  if (value === null || typeof value !== 'object' || typeof (value as { toJSON?: unknown }).toJSON === 'function') return value;
  const out: Record<string, unknown> = {};
  // Object.keys, not Object.entries: no [key, value] array per member (once per answer member, every request)
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    out[k] = toWire(record[k], found);
  }
  return out;
}
