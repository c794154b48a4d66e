import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type ConfigInput } from '../../src/config/index.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { median, round } from '../lib/stats.js';
import type { BenchContext, BenchRow, BenchScenario } from '../lib/types.js';

const SOFTHSM = '/usr/lib/softhsm/libsofthsm2.so';
const PASSPHRASE = 'bench passphrase for the seals';

async function post(url: string, path: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}/v1/sys/${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
  const out = await res.json() as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`${path} answered ${res.status}: ${JSON.stringify(out)}`);
  return out;
}

interface SealCase {
  readonly name: string;
  readonly init: Record<string, unknown>;
  readonly config?: ConfigInput;
  readonly env?: NodeJS.ProcessEnv;
  /** The unseal requests of one cycle (shamir: one per share). */
  unseal(init: Record<string, unknown>): Array<Record<string, unknown>>;
}

/**
 * Unseal time per seal over HTTP, in process: the median of several seal/unseal cycles. The
 * passphrase seal runs at the default Argon2id cost (64 MiB x 3); the transit seal's outer KMS is
 * another in-process Keyward on loopback.
 */
export const unsealSeals: BenchScenario = {
  name: 'Unseal time per seal (passphrase, shamir 3-of-5, static, PKCS#11 SoftHSM2, transit)',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const cycles = Math.max(3, ctx.rounds * 2 + 1);
    const servers: RunningServer[] = [];
    const start = async (name: string, config: ConfigInput = {}, env: NodeJS.ProcessEnv = {}) => {
      const dataDir = join(ctx.tmpDir, `unseal-${name}`);
      const s = await startServer(loadConfig({ dataDir, listen: '127.0.0.1:0', logLevel: 'silent', unsealRatePerMinute: 0, ...config }, {}), { secretsEnv: env });
      servers.push(s);
      return s;
    };
    try {
      // the transit seal's outer KMS
      const outer = await start('outer', { argon2MemoryKiB: 1024, argon2Iterations: 1 });
      const outerInit = await post(outer.url, 'init', { passphrase: PASSPHRASE });
      const outerCreds = outerInit.credentials as { access_key_id: string; secret_access_key: string; token: string };
      const created = await fetch(`${outer.url}/`, { method: 'POST', headers: { 'x-amz-target': 'TrentService.CreateKey', 'content-type': 'application/x-amz-json-1.1', authorization: `Bearer ${outerCreds.token}` }, body: '{}' });
      const wrapKey = ((await created.json()) as { KeyMetadata: { KeyId: string } }).KeyMetadata.KeyId;

      const cases: SealCase[] = [
        { name: 'passphrase (Argon2id 64 MiB x 3)', init: { passphrase: PASSPHRASE }, unseal: () => [{ passphrase: PASSPHRASE }] },
        { name: 'shamir 3-of-5', init: { seal: 'shamir', shares: 5, threshold: 3 }, unseal: (i) => (i.shares as string[]).slice(0, 3).map((share) => ({ share })) },
        { name: 'static', init: { seal: 'static', recovery_shares: 1, recovery_threshold: 1 }, env: { KEYWARD_ROOT_KEY: randomBytes(32).toString('hex') }, unseal: () => [{}] },
        {
          name: 'transit (another Keyward on loopback)',
          init: { seal: 'transit', recovery_shares: 1, recovery_threshold: 1 },
          config: { transitEndpoint: outer.url, transitKeyId: wrapKey },
          env: { KEYWARD_TRANSIT_ACCESS_KEY_ID: outerCreds.access_key_id, KEYWARD_TRANSIT_SECRET_ACCESS_KEY: outerCreds.secret_access_key },
          unseal: () => [{}],
        },
      ];
      if (existsSync(SOFTHSM)) {
        const hsmDir = join(ctx.tmpDir, 'softhsm');
        mkdirSync(join(hsmDir, 'tokens'), { recursive: true });
        writeFileSync(join(hsmDir, 'softhsm2.conf'), `directories.tokendir = ${join(hsmDir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
        process.env.SOFTHSM2_CONF = join(hsmDir, 'softhsm2.conf');
        execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'bench', '--pin', '12345678', '--so-pin', '87654321'], { stdio: 'pipe' });
        cases.push({
          name: 'PKCS#11 (SoftHSM2)',
          init: { seal: 'pkcs11', recovery_shares: 1, recovery_threshold: 1 },
          config: { pkcs11Module: SOFTHSM, pkcs11TokenLabel: 'bench', pkcs11GenerateKey: 'true' },
          env: { KEYWARD_PKCS11_PIN: '12345678' },
          unseal: () => [{}],
        });
      } else {
        ctx.log('SoftHSM2 missing: the PKCS#11 row is skipped');
      }

      const rows: BenchRow[] = [];
      for (const c of cases) {
        const s = await start(c.name.split(' ')[0]!.replace(/\W/g, ''), c.config, c.env);
        const init = await post(s.url, 'init', c.init);
        const token = (init.credentials as { token: string }).token;
        const times: number[] = [];
        for (let i = 0; i < cycles; i++) {
          await post(s.url, 'seal', {}, token);
          const t0 = performance.now();
          let last: Record<string, unknown> = {};
          // shamir: the first share answers the ceremony's nonce, the others carry it
          for (const body of c.unseal(init)) last = await post(s.url, 'unseal', typeof last.nonce === 'string' ? { ...body, nonce: last.nonce } : body);
          times.push((performance.now() - t0) / 1000);
          if (last.sealed !== false) throw new Error(`${c.name}: still sealed after the unseal requests`);
        }
        const value = median(times);
        rows.push({
          scenario: `Unseal over HTTP, ${c.name}`,
          unit: 's',
          value: round(value, 4),
          ...(c.name.startsWith('passphrase') ? { goal: { text: '< 0.25 s', met: value < 0.25 } } : {}),
          notes: `median of ${cycles}; min ${round(Math.min(...times), 4)} s, max ${round(Math.max(...times), 4)} s`,
        });
        ctx.log(`${c.name}: ${round(value, 4)} s`);
      }
      return rows;
    } finally {
      await Promise.all(servers.map((s) => s.close()));
    }
  },
};
