import { createCipheriv, randomBytes, randomFillSync } from 'node:crypto';
import { Envelope, KmsKeyProvider } from '../../src/client/index.js';
import { startInProcessKeyward } from '../lib/in-process-keyward.js';
import type { BenchContext, BenchRow, BenchScenario } from '../lib/types.js';

const MESSAGES = 1_000_000;
const PAYLOAD = 1024;
const KMS_CALL_GOAL = 16;
const GOAL_RATIO = 0.7;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * 1,000,000 envelope encryptions of 1 KiB with the default data-key cache against a real Keyward,
 * against raw node:crypto AES-256-GCM on the same payloads in the same run (random 96-bit nonces
 * from a pooled CSPRNG buffer, nonce || ciphertext || tag out: the least a caller could do).
 */
export const dataKeyCache: BenchScenario = {
  name: 'Envelope encryption with the data-key cache',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const kw = await startInProcessKeyward(ctx);
    const { client, keyId } = kw;
    try {
      const payloads = Array.from({ length: 1024 }, () => randomBytes(PAYLOAD));
      const context = { bench: 'data-key-cache' };
      const rawKey = randomBytes(32);
      const pool = Buffer.alloc(12 * 341);
      let poolAt = pool.length;
      let sink = 0;
      // raw and envelope alternate in slices of 100,000, so a burst of load on this shared
      // machine hits both alike; each round is 1,000,000 of each, one provider (cache) per round
      const SLICE = 100_000;
      const raw = (from: number) => {
        const t = process.hrtime.bigint();
        for (let i = from; i < from + SLICE; i++) {
          if (poolAt + 12 > pool.length) {
            randomFillSync(pool);
            poolAt = 0;
          }
          const nonce = pool.subarray(poolAt, (poolAt += 12));
          const c = createCipheriv('aes-256-gcm', rawKey, nonce);
          const body = c.update(payloads[i & 1023]!);
          c.final();
          sink += Buffer.concat([nonce, body, c.getAuthTag()]).length;
        }
        return Number(process.hrtime.bigint() - t) / 1e9;
      };
      const ours = async (envelope: Envelope, from: number) => {
        const t = process.hrtime.bigint();
        for (let i = from; i < from + SLICE; i++) sink += (await envelope.encrypt(payloads[i & 1023]!, { keyId, context })).length;
        return Number(process.hrtime.bigint() - t) / 1e9;
      };
      const round = async () => {
        const provider = new KmsKeyProvider(client);
        const envelope = new Envelope(provider);
        let rawS = 0;
        let oursS = 0;
        for (let from = 0; from < MESSAGES; from += SLICE) {
          rawS += raw(from);
          oursS += await ours(envelope, from);
        }
        const calls = provider.stats.kmsCalls;
        provider.clear();
        return { rawS, oursS, calls };
      };
      const rawSec: number[] = [];
      const oursSec: number[] = [];
      const kmsCalls: number[] = [];
      // warm-up (JIT): one slice each
      raw(0);
      await ours(new Envelope(new KmsKeyProvider(client)), 0);
      const rounds = ctx.quick ? 1 : ctx.rounds;
      for (let r = 0; r < rounds; r++) {
        const got = await round();
        rawSec.push(got.rawS);
        oursSec.push(got.oursS);
        kmsCalls.push(got.calls);
        ctx.log(`  round ${r + 1}/${rounds}: raw ${got.rawS.toFixed(2)} s, envelope ${got.oursS.toFixed(2)} s, ${got.calls} KMS calls (${sink > 0 ? 'ok' : ''})`);
      }
      const rawOps = MESSAGES / median(rawSec);
      const ourOps = MESSAGES / median(oursSec);
      const calls = Math.max(...kmsCalls);
      return [
        {
          scenario: 'Envelope encrypt 1 KiB x 1,000,000, default cache: KMS calls', unit: 'calls', value: calls,
          goal: { text: `<= ${KMS_CALL_GOAL}`, met: calls <= KMS_CALL_GOAL },
          notes: 'most in any round; default limits: 2^16 messages, 5 min, 4 GiB per data key',
        },
        {
          scenario: 'Envelope encrypt 1 KiB, default cache', unit: 'ops/s', value: Math.round(ourOps),
          baseline: { name: 'raw node:crypto AES-256-GCM, same payloads', value: Math.round(rawOps) },
          ratio: Math.round((ourOps / rawOps) * 100) / 100,
          goal: { text: `>= ${GOAL_RATIO} of raw`, met: ourOps / rawOps >= GOAL_RATIO },
          notes: `${MESSAGES.toLocaleString('en')} messages per round, sequential, includes the KMS calls`,
        },
      ];
    } finally {
      await kw.close();
    }
  },
};
