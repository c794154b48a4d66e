import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminClient, createKey, encryptBody, encryptOnce } from '../lib/kms.js';
import { startKeyward } from '../lib/keyward.js';
import { runLoad } from '../lib/load.js';
import { repoRoot } from '../lib/paths.js';
import { profilesIn, selfTimes } from '../lib/profile.js';
import { signCalls } from '../lib/sigv4.js';
import type { BenchContext, BenchRow, BenchScenario } from '../lib/types.js';

/**
 * `npm run bench -- --only profile`: Encrypt 32 B (SigV4, 50 connections) against a server run
 * with `node --cpu-prof`; writes the profile and its top self times to bench/results/.
 * `KEYWARD_BENCH_PROFILE_OP=Decrypt` profiles Decrypt of a 32 B ciphertext instead.
 */
export const profileEncrypt: BenchScenario = {
  name: 'Profile: Encrypt 32 B hot path (--cpu-prof)',
  optIn: true,
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const profDir = join(ctx.tmpDir, 'prof');
    mkdirSync(profDir);
    // KEYWARD_BENCH_PROFILE_AUDIT=on profiles the default configuration; off isolates the protocol path
    const audit = process.env.KEYWARD_BENCH_PROFILE_AUDIT === 'on' ? 'on' : 'off';
    const op = process.env.KEYWARD_BENCH_PROFILE_OP === 'Decrypt' ? 'Decrypt' : 'Encrypt';
    const kw = await startKeyward(ctx, { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`], env: { KEYWARD_AUDIT: audit } });
    const kms = adminClient(kw);
    let rps = 0;
    try {
      const keyId = await createKey(kms);
      const call = op === 'Decrypt'
        ? { operation: 'Decrypt', body: JSON.stringify({ CiphertextBlob: await encryptOnce(kms, keyId, Buffer.alloc(32, 0x61)) }) }
        : { operation: 'Encrypt', body: encryptBody(keyId, 32) };
      const calls = await signCalls(kw.url, kw.admin, [call], kw.admin.region);
      await runLoad({ url: kw.url, connections: ctx.connections, durationSec: 2, calls });
      rps = (await runLoad({ url: kw.url, connections: ctx.connections, durationSec: Math.max(ctx.durationSec, 5), calls })).rps;
    } finally {
      kms.destroy();
      await kw.stop();
    }
    const [file] = profilesIn(profDir);
    if (file === undefined) throw new Error('the server wrote no CPU profile');
    const out = join(repoRoot(), 'bench', 'results');
    mkdirSync(out, { recursive: true });
    copyFileSync(file, join(out, 'encrypt.cpuprofile'));
    const top = selfTimes(file).slice(0, 40);
    writeFileSync(join(out, 'encrypt-profile.txt'), top.map((t) => `${t.percent.toFixed(1).padStart(5)}%  ${t.fn}`).join('\n') + '\n');
    for (const t of top.slice(0, 15)) ctx.log(`  ${t.percent.toFixed(1).padStart(5)}%  ${t.fn}`);
    return [{
      scenario: `${op} 32 B under --cpu-prof, 1 process, audit ${audit}`,
      unit: 'req/s',
      value: Math.round(rps),
      notes: 'profile in bench/results/encrypt.cpuprofile, top self times in encrypt-profile.txt',
    }];
  },
};
