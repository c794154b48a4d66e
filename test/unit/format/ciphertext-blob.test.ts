import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type KeywardError } from '../../../src/errors/index.js';
import { canonicalContext, openBlob, readBlobHeader, sealBlob } from '../../../src/format/index.js';

const ref = { tenantId: 'default', keyId: '3f2a6c1e-9b8d-4e7f-a1b2-c3d4e5f60718', version: 7 };
const key = Buffer.alloc(32, 0x42);

const code = (fn: () => unknown) => {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return (e as KeywardError).code;
  }
};

describe('ciphertext blob v1', () => {
  it('round-trips and names tenant, key and version in its header', () => {
    const blob = sealBlob(ref, key, Buffer.from('hello'), { b: '2', a: '1' });
    const h = readBlobHeader(blob);
    expect(h).toMatchObject(ref);
    expect(blob.length).toBe(h.headerLength + 5 + 16);
    expect(openBlob(h, blob, key, { a: '1', b: '2' }).toString()).toBe('hello');
  });

  it('blobs sealed under alternating tenants, keys and versions each name and open under their own', () => {
    const refs = [ref, { ...ref, version: 8 }, { ...ref, keyId: '00000000-0000-4000-8000-000000000001' }, { ...ref, tenantId: 'acme' }, ref];
    const blobs = refs.map((r, i) => sealBlob(r, key, Buffer.from(`m${i}`)));
    blobs.forEach((blob, i) => {
      const h = readBlobHeader(blob);
      expect(h).toMatchObject(refs[i]!);
      expect(openBlob(h, blob, key).toString()).toBe(`m${i}`);
    });
    // a fresh salt and nonce every time: the same message never seals to the same bytes
    expect(new Set(blobs.map((b) => b.subarray(readBlobHeader(b).headerLength - 28).toString('hex'))).size).toBe(blobs.length);
  });

  it('golden blobs from earlier releases still decrypt', () => {
    // test/vectors/blob-v1.json was written by release 0.1.0; regenerate only for a NEW format version
    const file = new URL('../../vectors/blob-v1.json', import.meta.url);
    if (process.env.KEYWARD_WRITE_VECTORS === '1') {
      const vectors = [
        { context: {}, plaintext: '' },
        { context: {}, plaintext: 'a' },
        { context: { purpose: 'golden', 'ünïcode': 'välue' }, plaintext: 'golden blob of release 0.1.0' },
      ].map((v) => ({ ...v, key: key.toString('hex'), blob: sealBlob(ref, key, Buffer.from(v.plaintext), v.context).toString('base64') }));
      writeFileSync(file, `${JSON.stringify({ format: 'keyward ciphertext blob v1', release: '0.1.0', vectors }, null, 2)}\n`);
    }
    const { vectors } = JSON.parse(readFileSync(file, 'utf8')) as { vectors: Array<{ key: string; blob: string; context: Record<string, string>; plaintext: string }> };
    expect(vectors.length).toBeGreaterThanOrEqual(3);
    for (const v of vectors) {
      const blob = Buffer.from(v.blob, 'base64');
      expect(openBlob(readBlobHeader(blob), blob, Buffer.from(v.key, 'hex'), v.context).toString()).toBe(v.plaintext);
    }
  });

  it('any change to header, salt, nonce, body, tag or context is the one InvalidCiphertextException', () => {
    const blob = sealBlob(ref, key, Buffer.from('tamper target'), { c: 'd' });
    for (let i = 0; i < blob.length; i++) {
      const bad = Buffer.from(blob);
      bad[i]! ^= 1;
      expect(code(() => openBlob(readBlobHeader(bad), bad, key, { c: 'd' })), `byte ${i}`).toBe('InvalidCiphertextException');
    }
    expect(code(() => openBlob(readBlobHeader(blob), blob, key, { c: 'e' }))).toBe('InvalidCiphertextException');
    expect(code(() => openBlob(readBlobHeader(blob), blob, Buffer.alloc(32, 1), { c: 'd' }))).toBe('InvalidCiphertextException');
    for (const bad of [Buffer.alloc(0), Buffer.from([1, 1]), blob.subarray(0, 40), Buffer.concat([Buffer.from([2]), blob.subarray(1)])]) {
      expect(code(() => openBlob(readBlobHeader(bad), bad, key))).toBe('InvalidCiphertextException');
    }
  });

  it('canonical context: sorted by UTF-8 bytes, length-prefixed, empty means none', () => {
    expect(canonicalContext(undefined)).toHaveLength(0);
    expect(canonicalContext({})).toHaveLength(0);
    expect(canonicalContext({ b: 'x', a: 'y' }).equals(canonicalContext({ a: 'y', b: 'x' }))).toBe(true);
    // no ambiguity from concatenation: {ab: c} differs from {a: bc}
    expect(canonicalContext({ ab: 'c' }).equals(canonicalContext({ a: 'bc' }))).toBe(false);
    expect([...canonicalContext({ a: 'b' })]).toEqual([0, 1, 0, 1, 0x61, 0, 1, 0x62]);
  });
});
