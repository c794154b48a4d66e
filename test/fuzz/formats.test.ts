import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Barrier } from '../../src/barrier/index.js';
import { randomBytes } from '../../src/crypto/index.js';
import { isKeywardError } from '../../src/errors/index.js';
import { openBlob, openRecord, readBlobHeader, RecordIntegrityError, sealBlob, sealRecord } from '../../src/format/index.js';
import { MemoryStore } from '../../src/storage/index.js';

/**
 * Property tests over the byte formats: any change to a ciphertext blob (or its context) is the
 * one InvalidCiphertextException with the one message; any change to a stored record (or its
 * path) is the one integrity error. Never a crash, a RangeError or a different error.
 * KEYWARD_FUZZ_RUNS sets the cases per property (npm test: 2000; npm run test:fuzz: 200,000).
 */
const numRuns = Number(process.env.KEYWARD_FUZZ_RUNS ?? 2000);
// The long run has no time limit; the short one keeps vitest's.
const timeout = process.env.KEYWARD_FUZZ_RUNS === undefined ? undefined : 0;

type Mutation = (b: Buffer) => Buffer;

/** A mutation of a byte string; always a different byte string (checked by the property). */
function mutationArb(): fc.Arbitrary<Mutation> {
  return fc.oneof(
    fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })).map(([i, bit]): Mutation => (b) => { const c = Buffer.from(b); c[i % c.length]! ^= 1 << bit; return c; }),
    fc.tuple(fc.nat(), fc.nat(255)).map(([i, v]): Mutation => (b) => { const c = Buffer.from(b); c[i % c.length] = v; return c; }),
    fc.nat().map((n): Mutation => (b) => b.subarray(0, n % b.length)),
    fc.uint8Array({ minLength: 1, maxLength: 40 }).map((extra): Mutation => (b) => Buffer.concat([b, extra])),
    fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 20 })).map(([i, ins]): Mutation => (b) => { const at = i % b.length; return Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]); }),
    fc.tuple(fc.nat(), fc.integer({ min: 1, max: 30 })).map(([i, n]): Mutation => (b) => { const at = i % b.length; return Buffer.concat([b.subarray(0, at), b.subarray(at + n)]); }),
    fc.uint8Array({ maxLength: 200 }).map((r): Mutation => () => Buffer.from(r)),
    fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 1, max: 16 })).map(([i, j, n]): Mutation => (b) => {
      const c = Buffer.from(b);
      const a = i % c.length;
      const d = j % c.length;
      Buffer.from(b.subarray(a, a + n)).copy(c, d);
      return c;
    }),
  );
}

const key = randomBytes(32);
const ref = { tenantId: 'default', keyId: '3f2a6c1e-9b8d-4e7f-a1b2-c3d4e5f60718', version: 3 };
const contextArb = fc.dictionary(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }), fc.string({ unit: 'grapheme', maxLength: 8 }), { maxKeys: 3 });

function decryptOutcome(blob: Buffer, context: Record<string, string>): string {
  try {
    openBlob(readBlobHeader(blob), blob, key, context);
    return 'decrypted';
  } catch (e) {
    return isKeywardError(e) ? `${e.code}: ${e.message}` : `other: ${String(e)}`;
  }
}

describe('ciphertext blob fuzz', () => {
  const expected = 'InvalidCiphertextException: The ciphertext is invalid or cannot be decrypted with the given context.';

  it('any mutation of the blob is the one InvalidCiphertextException', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), contextArb, mutationArb(), (plaintext, context, mutate) => {
      const blob = sealBlob(ref, key, plaintext, context);
      const bad = mutate(blob);
      fc.pre(!bad.equals(blob));
      expect(decryptOutcome(bad, context)).toBe(expected);
    }), { numRuns });
  }, timeout);

  it('any other encryption context is the same error', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), contextArb, contextArb, (plaintext, context, other) => {
      const blob = sealBlob(ref, key, plaintext, context);
      const same = JSON.stringify(Object.entries(context).sort()) === JSON.stringify(Object.entries(other).sort());
      expect(decryptOutcome(blob, other)).toBe(same ? 'decrypted' : expected);
    }), { numRuns });
  }, timeout);

  it('the header of one blob on the body of another is the same error', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.integer({ min: 1, max: 2 ** 32 - 1 }), (plaintext, version) => {
      const a = sealBlob(ref, key, plaintext);
      const b = sealBlob({ ...ref, version }, key, plaintext);
      const h = readBlobHeader(a).headerLength;
      fc.pre(version !== ref.version);
      expect(decryptOutcome(Buffer.concat([b.subarray(0, h), a.subarray(h)]), {})).toBe(expected);
    }), { numRuns: Math.ceil(numRuns / 4) });
  }, timeout);
});

describe('stored record fuzz', () => {
  const term = 1;
  it('any mutation of a record, or reading it under another path, is a RecordIntegrityError', () => {
    fc.assert(fc.property(fc.string({ minLength: 1, maxLength: 40 }), fc.uint8Array({ maxLength: 300 }), fc.oneof(mutationArb().map((m) => ({ m, path: undefined as string | undefined })), fc.string({ maxLength: 40 }).map((p) => ({ m: undefined as Mutation | undefined, path: p }))), (path, value, change) => {
      const record = sealRecord(path, term, key, value);
      const bad = change.m ? change.m(record) : record;
      const readPath = change.path ?? path;
      fc.pre(!bad.equals(record) || readPath !== path);
      let outcome: unknown;
      try {
        openRecord(readPath, key, bad);
        outcome = 'opened';
      } catch (e) {
        outcome = e;
      }
      expect(outcome).toBeInstanceOf(RecordIntegrityError);
    }), { numRuns });
  }, timeout);

  it('through the barrier, a mutated stored value is the one IntegrityException and is not used', async () => {
    const store = new MemoryStore();
    const barrier = new Barrier(store);
    await barrier.initialize(randomBytes(32), new Date(), new Map([['core/seal', Buffer.from('{}')]]), async () => {});
    await barrier.put('keys/t/k', Buffer.from('the real record'));
    const original = (await store.get('keys/t/k'))!.value;
    await fc.assert(fc.asyncProperty(mutationArb(), async (mutate) => {
      const bad = mutate(Buffer.from(original));
      fc.pre(!bad.equals(original));
      await store.put('keys/t/k', bad);
      const outcome = await barrier.get('keys/t/k').then((v) => `read ${String(v?.value)}`, (e: unknown) => (isKeywardError(e) ? e.code : `other: ${String(e)}`));
      expect(outcome).toBe('IntegrityException');
    }), { numRuns: Math.ceil(numRuns / 4) });
  }, timeout);
});
