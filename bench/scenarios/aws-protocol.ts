import { startBareServer } from '../lib/bare-server.js';
import { adminClient, createKey, encryptBody, encryptOnce } from '../lib/kms.js';
import { startKeyward } from '../lib/keyward.js';
import { runLoad } from '../lib/load.js';
import { interleaved, loadRow, type Measured } from '../lib/measure.js';
import { bearerCalls, signCalls, type KmsCall } from '../lib/sigv4.js';
import { round } from '../lib/stats.js';
import type { BenchContext, BenchRow, BenchScenario } from '../lib/types.js';

const BASELINE = 'bare node:http';

/**
 * The AWS KMS JSON protocol on one process: Encrypt 32 B and 4 KiB, Decrypt, GenerateDataKey
 * (SigV4) and Encrypt with a bearer token, with a bare node:http server and the crypto reference
 * measured in the same interleaved rounds; RSS at idle and after the load. Encrypt 32 B is also
 * measured with the audit log off, to tell the protocol's cost from the audit log's. The goals are
 * issue 18's: Encrypt >= 0.65 of the crypto reference with p99 < 10 ms, Decrypt and
 * GenerateDataKey within 10% of Encrypt, idle RSS <= 120 MiB.
 */
export const awsProtocol: BenchScenario = {
  name: 'AWS protocol, 1 process',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const bare = await startBareServer();
    const bareEncrypt = await startBareServer('encrypt');
    const kw = await startKeyward(ctx);
    const noAudit = await startKeyward(ctx, { env: { KEYWARD_AUDIT: 'off' } });
    const kms = adminClient(kw);
    const kmsNoAudit = adminClient(noAudit);
    try {
      const keyId = await createKey(kms);
      const keyIdNoAudit = await createKey(kmsNoAudit);
      const blob32 = await encryptOnce(kms, keyId, Buffer.alloc(32, 0x61));
      await new Promise((r) => setTimeout(r, 1000));
      const idleRss = kw.rssMiB();
      const calls: Record<string, KmsCall> = {
        encrypt32: { operation: 'Encrypt', body: encryptBody(keyId, 32) },
        encrypt4k: { operation: 'Encrypt', body: encryptBody(keyId, 4096) },
        decrypt: { operation: 'Decrypt', body: JSON.stringify({ CiphertextBlob: blob32 }) },
        gdk: { operation: 'GenerateDataKey', body: JSON.stringify({ KeyId: keyId, KeySpec: 'AES_256' }) },
      };
      const load = (url: string, c: Parameters<typeof runLoad>[0]['calls'], durationSec: number) => runLoad({ url, connections: ctx.connections, durationSec, calls: c });
      // signed just before each round: a signature is valid for 5 minutes
      const sigv4 = async (name: string) => signCalls(kw.url, kw.admin, [calls[name]!], kw.admin.region);
      const m = await interleaved(ctx, {
        baseline: async (d) => load(bare.url, await sigv4('encrypt32'), d),
        bareEncrypt: async (d) => load(bareEncrypt.url, await sigv4('encrypt32'), d),
        encrypt32: async (d) => load(kw.url, await sigv4('encrypt32'), d),
        encrypt32NoAudit: async (d) => load(noAudit.url, await signCalls(noAudit.url, noAudit.admin, [{ operation: 'Encrypt', body: encryptBody(keyIdNoAudit, 32) }], noAudit.admin.region), d),
        encrypt4k: async (d) => load(kw.url, await sigv4('encrypt4k'), d),
        decrypt: async (d) => load(kw.url, await sigv4('decrypt'), d),
        gdk: async (d) => load(kw.url, await sigv4('gdk'), d),
        bearer32: async (d) => load(kw.url, bearerCalls(kw.url, kw.admin.token, [calls.encrypt32!]), d),
      });
      const loadedRss = kw.rssMiB();
      const baseline = { name: BASELINE, value: m.baseline.rps };
      // issue 18's goals: Encrypt against the crypto reference (the work an Encrypt cannot avoid),
      // Decrypt and GenerateDataKey within 10% of Encrypt; the ratio to bare node:http stays in the notes
      const reference = { name: 'crypto reference', value: m.bareEncrypt.rps };
      const encrypt = { name: 'Encrypt 32 B', value: m.encrypt32.rps };
      const ofBare = (x: Measured) => `${round(x.rps / m.baseline.rps, 2)} of ${BASELINE}`;
      const c = ctx.connections;
      return [
        loadRow(`${BASELINE}, fixed body, ${c} conns`, m.baseline, { notes: 'the baseline: reads the body, answers 44 bytes' }),
        loadRow(`bare node:http + Encrypt's JSON and crypto work, ${c} conns`, m.bareEncrypt, { baseline, notes: 'the crypto reference: no routing, auth, key lookup or metrics' }),
        loadRow(`Encrypt 32 B, SigV4, 1 process, ${c} conns`, m.encrypt32, { baseline: reference, minRatio: 0.65, maxP99Ms: 10, notes: `default configuration (audit on); ${ofBare(m.encrypt32)}` }),
        loadRow(`Encrypt 32 B, SigV4, 1 process, audit off, ${c} conns`, m.encrypt32NoAudit, { baseline: reference, notes: `${ofBare(m.encrypt32NoAudit)}; audit on is ${round(m.encrypt32.rps / m.encrypt32NoAudit.rps, 2)} of this` }),
        loadRow(`Encrypt 4 KiB, SigV4, 1 process, ${c} conns`, m.encrypt4k, { baseline }),
        loadRow(`Decrypt 32 B, SigV4, 1 process, ${c} conns`, m.decrypt, { baseline: encrypt, minRatio: 0.9, notes: ofBare(m.decrypt) }),
        loadRow(`GenerateDataKey AES_256, SigV4, 1 process, ${c} conns`, m.gdk, { baseline: encrypt, minRatio: 0.9, notes: ofBare(m.gdk) }),
        loadRow(`Encrypt 32 B, bearer token, 1 process, ${c} conns`, m.bearer32, { baseline }),
        { scenario: 'RSS idle, 1 process', unit: 'MiB', value: round(idleRss, 1), goal: { text: '<= 120 MiB', met: idleRss <= 120 } },
        { scenario: 'RSS after the AWS protocol loads, 1 process', unit: 'MiB', value: round(loadedRss, 1), baseline: { name: 'idle', value: round(idleRss, 1) }, ratio: round(loadedRss / idleRss, 2) },
      ];
    } finally {
      kms.destroy();
      kmsNoAudit.destroy();
      await kw.stop();
      await noAudit.stop();
      await bare.stop();
      await bareEncrypt.stop();
    }
  },
};
