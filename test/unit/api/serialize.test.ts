import { describe, expect, it } from 'vitest';
import { toJson } from '../../../src/api/http/serialize.js';

describe('toJson (AWS JSON responses)', () => {
  it('writes blobs as base64 at any depth and leaves everything else as JSON.stringify would', () => {
    const blob = Buffer.from('hello');
    const when = new Date('2026-01-02T03:04:05.000Z');
    const out = JSON.parse(toJson({
      CiphertextBlob: blob, KeyId: 'k', Count: 3, Flag: false, Missing: undefined, Nothing: null,
      Nested: { Plaintext: Buffer.from('wor'), At: when, List: [Buffer.from('a'), 'b', { C: Buffer.from('c') }] },
    })) as Record<string, unknown>;
    expect(out).toEqual({
      CiphertextBlob: blob.toString('base64'), KeyId: 'k', Count: 3, Flag: false, Nothing: null,
      Nested: { Plaintext: Buffer.from('wor').toString('base64'), At: when.toISOString(), List: ['YQ==', 'b', { C: 'Yw==' }] },
    });
    expect('Missing' in out).toBe(false);
  });

  it('encodes a Uint8Array view over a larger buffer by its own bytes only', () => {
    const backing = Buffer.from('0123456789');
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 2, 3);
    expect(JSON.parse(toJson({ B: view }))).toEqual({ B: Buffer.from('234').toString('base64') });
  });
});
