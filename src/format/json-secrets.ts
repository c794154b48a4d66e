import { isUtf8 } from 'node:buffer';
import { secretBuffer } from '../crypto/index.js';

/**
 * A strict reader of one JSON object from bytes that gives the members named as secrets as
 * Buffers (the UTF-8 bytes of their string, or a list of them), never as JavaScript strings:
 * a string cannot be wiped and stays in the heap after use, a Buffer can be zeroed. Every other
 * member is read by JSON.parse from its own slice of the bytes, so no string ever holds a secret.
 * Duplicate members are refused (the first copy of a secret would otherwise escape the wipe).
 */
export class JsonSecretsError extends Error {}

export function parseJsonWithSecrets(bytes: Uint8Array, secrets: ReadonlySet<string>): Record<string, unknown> {
  const r = new Reader(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const out: Record<string, unknown> = {};
  const made: Buffer[] = [];
  try {
    r.ws();
    r.expect(0x7b); // {
    r.ws();
    if (r.peek() === 0x7d) r.pos++;
    else {
      for (;;) {
        r.ws();
        const key = JSON.parse(r.text(r.pos, r.skipString())) as string;
        if (Object.hasOwn(out, key)) throw new JsonSecretsError(`duplicate member ${JSON.stringify(key.slice(0, 64))}`);
        r.ws();
        r.expect(0x3a); // :
        r.ws();
        if (secrets.has(key) && r.secretShaped()) {
          out[key] = r.secretValue(made);
        } else {
          const start = r.pos;
          r.skipValue();
          out[key] = JSON.parse(r.text(start, r.pos)) as unknown;
        }
        r.ws();
        const c = r.next();
        if (c === 0x7d) break;
        if (c !== 0x2c) throw new JsonSecretsError(`expected ',' or '}' at byte ${r.pos - 1}`);
      }
    }
    r.ws();
    if (r.pos !== r.buf.length) throw new JsonSecretsError(`unexpected data after the object at byte ${r.pos}`);
    return out;
  } catch (e) {
    for (const b of made) b.fill(0);
    throw e instanceof JsonSecretsError ? e : new JsonSecretsError((e as Error).message);
  }
}

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  peek(): number {
    return this.pos < this.buf.length ? this.buf[this.pos]! : -1;
  }

  next(): number {
    if (this.pos >= this.buf.length) throw new JsonSecretsError('unexpected end of the JSON text');
    return this.buf[this.pos++]!;
  }

  expect(c: number): void {
    if (this.next() !== c) throw new JsonSecretsError(`expected '${String.fromCharCode(c)}' at byte ${this.pos - 1}`);
  }

  ws(): void {
    for (let c = this.peek(); c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d; c = this.peek()) this.pos++;
  }

  text(start: number, end: number): string {
    return this.buf.toString('utf8', start, end);
  }

  /** Moves past a string starting here (validity of its contents is left to whoever decodes it); returns its end. */
  skipString(): number {
    this.expect(0x22);
    for (;;) {
      const c = this.next();
      if (c === 0x22) return this.pos;
      if (c === 0x5c) this.next();
    }
  }

  /** Moves past any value; JSON.parse of the slice judges it. */
  skipValue(): void {
    const c = this.peek();
    if (c === 0x22) {
      this.skipString();
      return;
    }
    if (c === 0x7b || c === 0x5b) {
      let depth = 0;
      do {
        const d = this.peek();
        if (d === 0x22) {
          this.skipString();
          continue;
        }
        this.next();
        if (d === 0x7b || d === 0x5b) depth++;
        else if (d === 0x7d || d === 0x5d) depth--;
      } while (depth > 0);
      return;
    }
    const start = this.pos;
    for (let d = this.peek(); d !== -1 && d !== 0x2c && d !== 0x7d && d !== 0x5d && d !== 0x20 && d !== 0x09 && d !== 0x0a && d !== 0x0d; d = this.peek()) this.pos++;
    if (this.pos === start) throw new JsonSecretsError(`expected a value at byte ${start}`);
  }

  /**
   * Whether the value here is a string or a list of only strings: a member named like a secret
   * that holds anything else (`shares: 5`, a count, in init) is an ordinary value.
   */
  secretShaped(): boolean {
    const c = this.peek();
    if (c === 0x22) return true;
    if (c !== 0x5b) return false;
    const start = this.pos;
    try {
      this.pos++;
      this.ws();
      if (this.peek() === 0x5d) return true;
      for (;;) {
        this.ws();
        if (this.peek() !== 0x22) return false;
        this.skipString();
        this.ws();
        const d = this.next();
        if (d === 0x5d) return true;
        if (d !== 0x2c) return false;
      }
    } finally {
      this.pos = start;
    }
  }

  /** A secret member: a string or a list of strings (secretShaped). */
  secretValue(made: Buffer[]): Buffer | Buffer[] {
    const c = this.peek();
    if (c === 0x22) return this.secretString(made);
    if (c !== 0x5b) throw new JsonSecretsError(`expected a string at byte ${this.pos}`);
    this.pos++;
    const list: Buffer[] = [];
    this.ws();
    if (this.peek() === 0x5d) {
      this.pos++;
      return list;
    }
    for (;;) {
      this.ws();
      if (this.peek() !== 0x22) throw new JsonSecretsError(`expected a string at byte ${this.pos}`);
      list.push(this.secretString(made));
      this.ws();
      const d = this.next();
      if (d === 0x5d) return list;
      if (d !== 0x2c) throw new JsonSecretsError(`expected ',' or ']' at byte ${this.pos - 1}`);
    }
  }

  /** Decodes a JSON string into a fresh Buffer of its UTF-8 bytes (escapes resolved; never longer than its text). */
  secretString(made: Buffer[]): Buffer {
    const start = this.pos;
    const end = this.skipString();
    const out = secretBuffer(end - start - 2);
    made.push(out);
    let n = 0;
    for (let i = start + 1; i < end - 1; i++) {
      const c = this.buf[i]!;
      if (c < 0x20) throw new JsonSecretsError(`control character in a string at byte ${i}`);
      if (c !== 0x5c) {
        out[n++] = c;
        continue;
      }
      const e = this.buf[++i]!;
      const simple = ESCAPES[e];
      if (simple !== undefined) {
        out[n++] = simple;
        continue;
      }
      if (e !== 0x75) throw new JsonSecretsError(`invalid escape at byte ${i - 1}`);
      let cp = this.hex4(i + 1);
      i += 4;
      if (cp >= 0xd800 && cp <= 0xdbff && this.buf[i + 1] === 0x5c && this.buf[i + 2] === 0x75) {
        const low = this.hex4(i + 3);
        if (low >= 0xdc00 && low <= 0xdfff) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          i += 6;
        }
      }
      // a lone surrogate becomes U+FFFD, as Buffer.from(string, 'utf8') would write it
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
      n += writeUtf8(out, n, cp);
    }
    const value = out.subarray(0, n);
    if (!isUtf8(value)) throw new JsonSecretsError('a string is not valid UTF-8');
    return value;
  }

  private hex4(at: number): number {
    if (at + 4 > this.buf.length) throw new JsonSecretsError('unexpected end of a \\u escape');
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const h = HEX.indexOf(String.fromCharCode(this.buf[at + k]!).toLowerCase());
      if (h < 0) throw new JsonSecretsError(`invalid \\u escape at byte ${at - 2}`);
      v = v * 16 + h;
    }
    return v;
  }
}

const HEX = '0123456789abcdef';
const ESCAPES: Record<number, number> = { 0x22: 0x22, 0x5c: 0x5c, 0x2f: 0x2f, 0x62: 0x08, 0x66: 0x0c, 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09 };

function writeUtf8(out: Buffer, at: number, cp: number): number {
  if (cp < 0x80) {
    out[at] = cp;
    return 1;
  }
  if (cp < 0x800) {
    out[at] = 0xc0 | (cp >> 6);
    out[at + 1] = 0x80 | (cp & 0x3f);
    return 2;
  }
  if (cp < 0x10000) {
    out[at] = 0xe0 | (cp >> 12);
    out[at + 1] = 0x80 | ((cp >> 6) & 0x3f);
    out[at + 2] = 0x80 | (cp & 0x3f);
    return 3;
  }
  out[at] = 0xf0 | (cp >> 18);
  out[at + 1] = 0x80 | ((cp >> 12) & 0x3f);
  out[at + 2] = 0x80 | ((cp >> 6) & 0x3f);
  out[at + 3] = 0x80 | (cp & 0x3f);
  return 4;
}

/**
 * Writes `value` as JSON with the members in `secrets` (text made of printable ASCII other than
 * '"' and '\', such as base64) spliced in as bytes: the record's text never exists as a string.
 */
export function jsonWithSecrets(value: Record<string, unknown>, secrets: Readonly<Record<string, Uint8Array>>): Buffer {
  const plain = Buffer.from(JSON.stringify(value), 'utf8');
  const parts: Uint8Array[] = [plain.subarray(0, plain.length - 1)];
  let first = plain.length === 2;
  for (const [name, bytes] of Object.entries(secrets)) {
    for (const b of bytes) if (b < 0x20 || b > 0x7e || b === 0x22 || b === 0x5c) throw new JsonSecretsError(`secret member ${name} must be printable ASCII without quotes or backslashes`);
    parts.push(Buffer.from(`${first ? '' : ','}${JSON.stringify(name)}:"`), bytes, QUOTE);
    first = false;
  }
  parts.push(CLOSE);
  return Buffer.concat(parts);
}

const QUOTE = Buffer.from('"');
const CLOSE = Buffer.from('}');
