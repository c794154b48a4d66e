/**
 * Canonical bytes of an encryption context (a string map), used as AAD.
 * Keys are sorted by their UTF-8 bytes; each key and value is length-prefixed (u16 BE), preceded
 * by the pair count (u16 BE). An absent or empty context encodes as zero bytes, so
 * `{}` and "no context" are the same, as in AWS KMS.
 */
export type EncryptionContext = Readonly<Record<string, string>>;

const EMPTY = Buffer.alloc(0);

export function canonicalContext(context: EncryptionContext | undefined): Buffer {
  if (context === undefined) return EMPTY;
  const keys = Object.keys(context);
  if (keys.length === 0) return EMPTY;
  const pairs = keys.map((k) => [Buffer.from(k, 'utf8'), Buffer.from(context[k] ?? '', 'utf8')] as const);
  pairs.sort((a, b) => Buffer.compare(a[0], b[0]));
  let size = 2;
  for (const [k, v] of pairs) size += 4 + k.length + v.length;
  const out = Buffer.allocUnsafe(size);
  let off = out.writeUInt16BE(pairs.length, 0);
  for (const [k, v] of pairs) {
    off = out.writeUInt16BE(k.length, off);
    off += k.copy(out, off);
    off = out.writeUInt16BE(v.length, off);
    off += v.copy(out, off);
  }
  return out;
}
