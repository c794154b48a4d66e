import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { adminClient, createKey, encryptBody } from '../lib/kms.js';
import { startKeyward } from '../lib/keyward.js';
import { runLoad } from '../lib/load.js';
import { interleaved, loadRow } from '../lib/measure.js';
import { signCalls, type KmsCall } from '../lib/sigv4.js';
import type { BenchContext, BenchRow, BenchScenario } from '../lib/types.js';

const BASELINE = 'Encrypt 32 B, SigV4';

/**
 * Sign with an ECC_NIST_P256 key (RAW 32 B message, ECDSA_SHA_256) and GenerateMac with an
 * HMAC_256 key (32 B), each against Encrypt 32 B on the same process in the same interleaved
 * rounds, all over SigV4 with the audit log on (the default). Goals (issue 16): Sign >= 0.5x
 * Encrypt, GenerateMac >= 0.8x.
 */
export const asymmetric: BenchScenario = {
  name: 'Sign and GenerateMac, 1 process',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const kw = await startKeyward(ctx);
    const kms = adminClient(kw);
    try {
      const keyId = await createKey(kms);
      const p256 = (await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
      const hmac = (await kms.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }))).KeyMetadata!.KeyId!;
      const message = Buffer.alloc(32, 0x61).toString('base64');
      const calls: Record<string, KmsCall> = {
        encrypt32: { operation: 'Encrypt', body: encryptBody(keyId, 32) },
        sign: { operation: 'Sign', body: JSON.stringify({ KeyId: p256, Message: message, MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256' }) },
        mac: { operation: 'GenerateMac', body: JSON.stringify({ KeyId: hmac, Message: message, MacAlgorithm: 'HMAC_SHA_256' }) },
      };
      // signed just before each round: a signature is valid for 5 minutes
      const load = async (name: string, durationSec: number) => runLoad({
        url: kw.url, connections: ctx.connections, durationSec, calls: await signCalls(kw.url, kw.admin, [calls[name]!], kw.admin.region),
      });
      const m = await interleaved(ctx, {
        encrypt32: (d) => load('encrypt32', d),
        sign: (d) => load('sign', d),
        mac: (d) => load('mac', d),
      });
      const baseline = { name: BASELINE, value: m.encrypt32.rps };
      const c = ctx.connections;
      return [
        loadRow(`${BASELINE}, 1 process, ${c} conns (baseline of this scenario)`, m.encrypt32),
        loadRow(`Sign ECC_NIST_P256 ECDSA_SHA_256, 32 B RAW, SigV4, 1 process, ${c} conns`, m.sign, { baseline, minRatio: 0.5, notes: 'DER signature; private key parsed once and cached with its material' }),
        loadRow(`GenerateMac HMAC_256, 32 B, SigV4, 1 process, ${c} conns`, m.mac, { baseline, minRatio: 0.8 }),
      ];
    } finally {
      kms.destroy();
      await kw.stop();
    }
  },
};
