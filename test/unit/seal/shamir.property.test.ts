import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Barrier } from '../../../src/barrier/index.js';
import { combineShares, decodeShare, SealManager, splitSecret } from '../../../src/seal/index.js';
import { MemoryStore } from '../../../src/storage/index.js';

describe('shamir property', () => {
  it('any threshold of the shares unseals; fewer never do (through the seal manager)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 2, max: 7 }).chain((n) => fc.record({
        n: fc.constant(n),
        k: fc.integer({ min: 2, max: n }),
        order: fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }),
      })),
      async ({ n, k, order }) => {
        const store = new MemoryStore();
        const init = new SealManager(new Barrier(store), () => new Date());
        const { shares } = await init.initialize({ seal: { type: 'shamir', shares: n, threshold: k } }, async () => {});
        expect(shares).toHaveLength(n);

        const node = new SealManager(new Barrier(store), () => new Date());
        // fewer than k distinct shares: still sealed, progress counts up; the first answers the nonce
        let nonce: string | undefined;
        for (let i = 0; i < k - 1; i++) {
          const s = await node.unseal({ share: String(shares![order[i]!]!), ...(nonce !== undefined ? { nonce } : {}) });
          expect(s).toMatchObject({ sealed: true, progress: i + 1, threshold: k });
          nonce = s.nonce;
        }
        // the k-th distinct share (any subset, any order) unseals
        expect((await node.unseal({ share: String(shares![order[k - 1]!]!), ...(nonce !== undefined ? { nonce } : {}) })).sealed).toBe(false);
      },
    ), { numRuns: 40 });
  });

  it('fewer than threshold shares never combine to the secret; a threshold subset always does', async () => {
    await fc.assert(fc.asyncProperty(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.integer({ min: 3, max: 8 }).chain((n) => fc.record({ n: fc.constant(n), k: fc.integer({ min: 3, max: n }), pick: fc.shuffledSubarray([...Array(n).keys()], { minLength: 2 }) })),
      async (secret, { n, k, pick }) => {
        const shares = (await splitSecret(Buffer.from(secret), { shares: n, threshold: k })).map((s) => decodeShare(s.bytes));
        const combined = await combineShares(pick.map((i) => shares[i]!));
        if (pick.length >= k) expect(combined.equals(Buffer.from(secret))).toBe(true);
        else expect(combined.equals(Buffer.from(secret))).toBe(false);
      },
    ), { numRuns: 200 });
  });
});
