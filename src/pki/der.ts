/**
 * A minimal DER writer and reader for the few types on the issuance path (a member certificate's
 * varying fields, a PKCS#10 request's envelope). The schema library (asn1js through
 * @peculiar/asn1-schema) builds an object graph per value and was a quarter of an issuance's CPU;
 * these write and read bytes directly. Everything else (CA certificates, CRLs, OCSP) still uses
 * the library.
 */

export const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

// --- writing -------------------------------------------------------------------------------------

function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV: `tag` (a single identifier octet) around the concatenated contents. */
export function tlv(tag: number, ...contents: readonly Uint8Array[]): Buffer {
  let length = 0;
  for (const c of contents) length += c.length;
  return Buffer.concat([Buffer.from([tag]), lengthBytes(length), ...contents]);
}

export const sequence = (...items: readonly Uint8Array[]): Buffer => tlv(TAG.sequence, ...items);

/** A non-negative INTEGER from big-endian magnitude bytes (a 0x00 is prepended when the top bit is set). */
export function unsignedInteger(magnitude: Buffer): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const m = magnitude.subarray(start);
  return m.length > 0 && (m[0]! & 0x80) !== 0 ? tlv(TAG.integer, Buffer.from([0]), m) : tlv(TAG.integer, m.length === 0 ? Buffer.from([0]) : m);
}

export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [];
  const base128 = (v: number) => {
    const b: number[] = [v & 0x7f];
    for (let x = Math.floor(v / 128); x > 0; x = Math.floor(x / 128)) b.unshift(0x80 | (x & 0x7f));
    out.push(...b);
  };
  base128(arcs[0]! * 40 + arcs[1]!);
  for (const a of arcs.slice(2)) base128(a);
  return tlv(TAG.oid, Buffer.from(out));
}

const two = (n: number) => String(n).padStart(2, '0');

/**
 * An X.509 Time (RFC 5280 4.1.2.5): UTCTime through 2049, GeneralizedTime from 2050, whole
 * seconds in UTC.
 */
export function time(d: Date): Buffer {
  const year = d.getUTCFullYear();
  const rest = `${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`;
  return year >= 1950 && year <= 2049
    ? tlv(TAG.utcTime, Buffer.from(`${two(year % 100)}${rest}`, 'latin1'))
    : tlv(TAG.generalizedTime, Buffer.from(`${String(year).padStart(4, '0')}${rest}`, 'latin1'));
}

export const utf8String = (s: string): Buffer => tlv(TAG.utf8String, Buffer.from(s, 'utf8'));

/** An Extension: { extnID, critical (only when TRUE: DER omits the default), extnValue }. */
export function extension(id: string, value: Uint8Array, critical = false): Buffer {
  return critical ? sequence(oid(id), Buffer.from([TAG.boolean, 1, 0xff]), tlv(TAG.octetString, value)) : sequence(oid(id), tlv(TAG.octetString, value));
}

// --- reading -------------------------------------------------------------------------------------

/** One element read from a buffer: its tag, its contents, and all its bytes (header included). */
export interface Element {
  readonly tag: number;
  readonly contents: Buffer;
  readonly raw: Buffer;
}

export class DerError extends Error {}

/**
 * The element at `offset` of `data`, and the offset after it. Definite lengths only (DER),
 * single-octet tags (every tag on the paths read here), nothing past the end of `data`.
 */
export function readElement(data: Buffer, offset = 0): { element: Element; next: number } {
  if (offset + 2 > data.length) throw new DerError('truncated (no room for a tag and length)');
  const tag = data[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError(`unsupported multi-octet tag at offset ${offset}`);
  let length = data[offset + 1]!;
  let header = 2;
  if (length === 0x80) throw new DerError(`indefinite length at offset ${offset} (not DER)`);
  if (length > 0x80) {
    const n = length & 0x7f;
    if (n > 4 || offset + 2 + n > data.length) throw new DerError(`bad length at offset ${offset}`);
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + data[offset + 2 + i]!;
    header = 2 + n;
  }
  const end = offset + header + length;
  if (end > data.length) throw new DerError(`element at offset ${offset} runs past the end (${length} bytes declared)`);
  return { element: { tag, contents: data.subarray(offset + header, end), raw: data.subarray(offset, end) }, next: end };
}

/** The elements inside a constructed element's contents, in order; the contents must be exactly covered. */
export function children(parent: Element): Element[] {
  const data = parent.contents;
  const out: Element[] = [];
  for (let offset = 0; offset < data.length;) {
    const { element, next } = readElement(data, offset);
    out.push(element);
    offset = next;
  }
  return out;
}

/** The one element `data` holds, with nothing after it. */
export function single(data: Buffer): Element {
  const { element, next } = readElement(data, 0);
  if (next !== data.length) throw new DerError(`${data.length - next} bytes after the end of the outer element`);
  return element;
}

export function expectTag(e: Element | undefined, tag: number, what: string): Element {
  if (e === undefined) throw new DerError(`${what} is missing`);
  if (e.tag !== tag) throw new DerError(`${what} has tag 0x${e.tag.toString(16)} where 0x${tag.toString(16)} was expected`);
  return e;
}

/** Dotted text of an OBJECT IDENTIFIER's contents. */
export function oidText(contents: Buffer): string {
  if (contents.length === 0 || (contents[contents.length - 1]! & 0x80) !== 0) throw new DerError('malformed object identifier');
  const arcs: number[] = [];
  let v = 0;
  for (const b of contents) {
    v = v * 128 + (b & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER) throw new DerError('object identifier arc too large');
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) arcs.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else arcs.push(v);
      v = 0;
    }
  }
  return arcs.join('.');
}
