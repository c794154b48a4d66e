import { createDecipheriv, hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ALG_GCM_MESSAGE, ALG_GCM_SEGMENTED, canonicalContext, deriveSegmentKey, encodeHeader, encodeKeySource, openMessage,
  parseHeader, sealMessage, sealSegment, type KeySource,
} from '../../../src/format/index.js';

interface Vector {
  name: string;
  algorithm: 1 | 2;
  dataKey: string;
  context: Record<string, string>;
  keySource: 'kms' | 'keyset';
  plaintext: string;
  envelope: string;
  nonce?: string;
  segmentSize?: number;
  salt?: string;
  noncePrefix?: string;
}
const file = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../vectors/envelope-v1.json'), 'utf8')) as {
  wrappedKeyOfKmsVectors: string; keysetKeyIdOfKeysetVectors: number; vectors: Vector[];
};
const hex = (s: string) => Buffer.from(s, 'hex');
const sourceOf = (v: Vector): KeySource => (v.keySource === 'kms' ? { kind: 'kms', wrappedKey: hex(file.wrappedKeyOfKmsVectors) } : { kind: 'keyset', keyId: file.keysetKeyIdOfKeysetVectors });

/**
 * An independent reading of docs/formats.md with node:crypto only (no Keyward code), so the
 * document, the vectors and the implementation must all agree.
 */
function decryptPerSpec(v: Vector): Buffer {
  const env = hex(v.envelope);
  expect(env.subarray(0, 4).toString('latin1')).toBe('KWE\u0001');
  expect(env[4]).toBe(v.algorithm);
  let off = 6;
  if (env[5] === 0x01) off += 2 + env.readUInt16BE(6);
  else if (env[5] === 0x02) off += 4;
  else throw new Error('bad key source');
  const ctx = Object.keys(v.context).sort();
  const ctxBytes = ctx.length === 0 ? Buffer.alloc(0) : Buffer.concat([
    Buffer.from([ctx.length >> 8, ctx.length & 0xff]),
    ...ctx.flatMap((k) => [k, v.context[k]!].map((s) => { const b = Buffer.from(s); return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]); })),
  ]);
  const key = hex(v.dataKey);
  if (v.algorithm === 1) {
    const nonce = env.subarray(off, off + 12);
    const header = env.subarray(0, off + 12);
    const d = createDecipheriv('aes-256-gcm', key, nonce);
    d.setAAD(Buffer.concat([header, ctxBytes]));
    d.setAuthTag(env.subarray(env.length - 16));
    return Buffer.concat([d.update(env.subarray(off + 12, env.length - 16)), d.final()]);
  }
  const segmentSize = env.readUInt32BE(off);
  const salt = env.subarray(off + 4, off + 36);
  const prefix = env.subarray(off + 36, off + 43);
  const header = env.subarray(0, off + 43);
  const fileKey = Buffer.from(hkdfSync('sha256', key, salt, 'keyward/envelope/v1 segment key', 32));
  const out: Buffer[] = [];
  let pos = header.length;
  for (let i = 0; ; i++) {
    const last = env.length - pos <= segmentSize + 16;
    const sealed = env.subarray(pos, last ? env.length : pos + segmentSize + 16);
    const nonce = Buffer.concat([prefix, Buffer.from([i >>> 24, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff, last ? 1 : 0])]);
    const d = createDecipheriv('aes-256-gcm', fileKey, nonce);
    if (i === 0) d.setAAD(Buffer.concat([header, ctxBytes]));
    d.setAuthTag(sealed.subarray(sealed.length - 16));
    out.push(d.update(sealed.subarray(0, sealed.length - 16)), d.final());
    pos += sealed.length;
    if (last) return Buffer.concat(out);
  }
}

describe('client envelope format, golden vectors (test/vectors/envelope-v1.json)', () => {
  it('has vectors for both algorithms and both key sources', () => {
    expect(new Set(file.vectors.map((v) => `${v.algorithm}/${v.keySource}`))).toEqual(new Set(['1/kms', '1/keyset', '2/kms', '2/keyset']));
  });

  for (const v of file.vectors) {
    it(`${v.name}: decrypts per the document, parses, and re-encodes byte for byte`, () => {
      expect(decryptPerSpec(v).toString('hex')).toBe(v.plaintext);
      const env = hex(v.envelope);
      const header = parseHeader(env)!;
      expect(header.source).toEqual(sourceOf(v));
      const ctx = canonicalContext(v.context);
      if (v.algorithm === 1) {
        expect(header.algorithm).toBe(ALG_GCM_MESSAGE);
        expect(openMessage(hex(v.dataKey), header, env, ctx).toString('hex')).toBe(v.plaintext);
        const again = sealMessage(hex(v.dataKey), encodeKeySource(sourceOf(v)), hex(v.nonce!), hex(v.plaintext), ctx);
        expect(again.toString('hex')).toBe(v.envelope);
      } else {
        expect(header).toMatchObject({ algorithm: ALG_GCM_SEGMENTED, segmentSize: v.segmentSize });
        const h = encodeHeader(encodeKeySource(sourceOf(v)), { algorithm: ALG_GCM_SEGMENTED, segmentSize: v.segmentSize!, salt: hex(v.salt!), noncePrefix: hex(v.noncePrefix!) });
        const key = deriveSegmentKey(hex(v.dataKey), hex(v.salt!));
        const pt = hex(v.plaintext);
        const n = Math.max(1, Math.ceil(pt.length / v.segmentSize!));
        const parts: Buffer[] = [h];
        for (let i = 0; i < n; i++) {
          parts.push(...sealSegment(key, hex(v.noncePrefix!), i, i === n - 1, pt.subarray(i * v.segmentSize!, (i + 1) * v.segmentSize!), i === 0 ? Buffer.concat([h, ctx]) : undefined));
        }
        expect(Buffer.concat(parts).toString('hex')).toBe(v.envelope);
      }
    });
  }

  it('parseHeader asks for more bytes on a short prefix and rejects a wrong magic, version, algorithm, key source or segment size', () => {
    const env = hex(file.vectors.find((v) => v.algorithm === 2)!.envelope);
    const headerLength = parseHeader(env)!.bytes.length;
    for (let n = 0; n < headerLength; n++) expect(parseHeader(env.subarray(0, n))).toBeUndefined();
    const bad = (at: number, value: number) => { const c = Buffer.from(env); c[at] = value; return c; };
    for (const [at, value] of [[0, 0x4c], [3, 0x02], [4, 0x03], [5, 0x07]] as const) {
      expect(() => parseHeader(bad(at, value))).toThrow(expect.objectContaining({ code: 'InvalidCiphertextException' }) as Error);
    }
    const sizeAt = headerLength - 43;
    const huge = Buffer.from(env);
    huge.writeUInt32BE(2 ** 31, sizeAt);
    expect(() => parseHeader(huge)).toThrow(expect.objectContaining({ code: 'InvalidCiphertextException' }) as Error);
    const tiny = Buffer.from(env);
    tiny.writeUInt32BE(15, sizeAt);
    expect(() => parseHeader(tiny)).toThrow(expect.objectContaining({ code: 'InvalidCiphertextException' }) as Error);
  });
});
