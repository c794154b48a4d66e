import { randomBytes, randomInt } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { callTarget } from '../helpers/keyward-api.js';
import { keyward, spawnKeyward, type KeywardProcess } from '../helpers/process.js';
import { tempDir, TEST_PASSPHRASE } from '../helpers/server.js';
import { eventually } from '../helpers/wait.js';

/** Operations a cycle acknowledges (at least) before its kill. */
const MIN_ACKNOWLEDGED_PER_CYCLE = 6;

/**
 * Crash harness: a real `keyward server` process under continuous mixed load is killed with
 * SIGKILL at a random moment, restarted, and checked against a ledger of everything it
 * acknowledged. Each worker runs its operations one at a time on its own keys and aliases, so at
 * a kill each worker has at most one operation whose outcome is unknown; the checks allow exactly
 * that operation to have happened or not, and nothing else.
 */

export interface CrashOptions {
  readonly cycles: number;
  /** `--store` value; undefined means SQLite in the data directory. */
  readonly store?: string;
  readonly workers?: number;
  /** Load runs for a random time in this range before the kill. */
  readonly minLoadMs?: number;
  readonly maxLoadMs?: number;
  readonly log?: (line: string) => void;
  /** Runs after each kill, before the restart (the harness's own test simulates a lost write here). */
  readonly afterKill?: (dataDir: string) => void;
}

export interface CrashReport {
  readonly passed: number;
  readonly failed: number;
  readonly failures: string[];
  readonly acknowledged: number;
  readonly uncertain: number;
  readonly ciphertextsChecked: number;
  readonly keys: number;
  readonly versions: number;
  readonly destroyedVersions: number;
  readonly aliasMoves: number;
  readonly restartMs: number[];
}

interface Ciphertext { readonly blob: string; readonly plaintext: string; readonly context: Record<string, string>; readonly version: number }
interface KeyFacts { readonly keyId: string; versions: number; destroyed: Set<number>; readonly ciphertexts: Ciphertext[] }
type Pending =
  | { kind: 'create' }
  | { kind: 'encrypt' }
  | { kind: 'rotate'; key: KeyFacts }
  | { kind: 'destroy'; key: KeyFacts; version: number }
  | { kind: 'alias'; alias: string; from: string | undefined; to: string };

interface Worker { readonly id: number; readonly keys: KeyFacts[]; readonly aliases: Map<string, string>; pending: Pending | undefined }

const FAST = { KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1', KEYWARD_LOG_LEVEL: 'warn', KEYWARD_RATE_LIMIT_PER_SECOND: '0' };

class Fault extends Error {}

export async function runCrashCycles(options: CrashOptions): Promise<CrashReport> {
  const log = options.log ?? (() => undefined);
  const dataDir = tempDir('keyward-crash-');
  const storeArgs = options.store === undefined ? [] : ['--store', options.store];
  const env = { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE };
  const init = await keyward(['init', '--data-dir', dataDir, '--json', ...storeArgs], env);
  if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
  const auth = { token: (JSON.parse(init.stdout) as { token: string }).token };
  const workers: Worker[] = Array.from({ length: options.workers ?? 3 }, (_, id) => ({ id, keys: [], aliases: new Map(), pending: undefined }));
  const report = { passed: 0, failed: 0, failures: [] as string[], acknowledged: 0, uncertain: 0, ciphertextsChecked: 0, aliasMoves: 0, restartMs: [] as number[] };
  let checkedUpTo = new Map<Ciphertext, true>();

  let server: KeywardProcess | undefined;
  const start = async () => {
    const t0 = performance.now();
    server = await spawnKeyward(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0', ...storeArgs], env);
    report.restartMs.push(performance.now() - t0);
    return server.url;
  };

  const call = async (url: string, target: string, body: unknown) => {
    const r = await callTarget(url, target, body, auth);
    return r;
  };
  const ok = async (url: string, target: string, body: unknown) => {
    const r = await call(url, target, body);
    if (r.status !== 200) throw new Fault(`${target} answered ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };

  /** One operation of a worker; throws on a transport error (the server died mid-request). */
  const step = async (url: string, w: Worker) => {
    const roll = randomInt(100);
    if (w.keys.length === 0 || (roll < 8 && w.keys.length < 6)) {
      w.pending = { kind: 'create' };
      const meta = (await ok(url, 'TrentService.CreateKey', { Description: `crash w${w.id}` })).KeyMetadata as { KeyId: string };
      w.keys.push({ keyId: meta.KeyId, versions: 1, destroyed: new Set(), ciphertexts: [] });
      return;
    }
    const key = w.keys[randomInt(w.keys.length)]!;
    if (roll < 55) {
      w.pending = { kind: 'encrypt' };
      const plaintext = randomBytes(randomInt(1, 200)).toString('base64');
      const context = { worker: String(w.id), n: String(randomInt(1e9)) };
      const gen = roll >= 45;
      const body = gen
        ? await ok(url, 'TrentService.GenerateDataKey', { KeyId: key.keyId, KeySpec: 'AES_256', EncryptionContext: context })
        : await ok(url, 'TrentService.Encrypt', { KeyId: key.keyId, Plaintext: plaintext, EncryptionContext: context });
      key.ciphertexts.push({ blob: body.CiphertextBlob as string, plaintext: gen ? body.Plaintext as string : plaintext, context, version: key.versions });
    } else if (roll < 65) {
      const live = key.ciphertexts.filter((c) => !key.destroyed.has(c.version));
      const c = live[randomInt(Math.max(1, live.length))];
      if (c === undefined) return;
      w.pending = { kind: 'encrypt' };
      const body = await ok(url, 'TrentService.Decrypt', { CiphertextBlob: c.blob, EncryptionContext: c.context });
      if (body.Plaintext !== c.plaintext) throw new Fault(`live decrypt of ${key.keyId} v${c.version} returned other bytes`);
    } else if (roll < 75) {
      w.pending = { kind: 'rotate', key };
      await ok(url, 'TrentService.RotateKeyOnDemand', { KeyId: key.keyId });
      key.versions += 1;
    } else if (roll < 83) {
      const candidates = Array.from({ length: key.versions - 1 }, (_, i) => i + 1).filter((v) => !key.destroyed.has(v));
      const version = candidates[randomInt(Math.max(1, candidates.length))];
      if (version === undefined) return;
      w.pending = { kind: 'destroy', key, version };
      await ok(url, 'Keyward.DestroyKeyVersion', { KeyId: key.keyId, Version: version });
      key.destroyed.add(version);
    } else {
      const alias = `alias/crash-w${w.id}-${randomInt(3)}`;
      const from = w.aliases.get(alias);
      const to = w.keys[randomInt(w.keys.length)]!.keyId;
      w.pending = { kind: 'alias', alias, from, to };
      await ok(url, from === undefined ? 'TrentService.CreateAlias' : 'TrentService.UpdateAlias', { AliasName: alias, TargetKeyId: to });
      w.aliases.set(alias, to);
      report.aliasMoves += 1;
    }
  };

  /** Checks every acknowledged fact; folds the one uncertain operation per worker into the ledger. */
  const verify = async (url: string, full: boolean) => {
    // Nothing half-written: every key the store lists describes and lists its versions cleanly.
    let marker: string | undefined;
    do {
      const page = await ok(url, 'TrentService.ListKeys', { Limit: 1000, ...(marker !== undefined ? { Marker: marker } : {}) });
      for (const k of page.Keys as Array<{ KeyId: string }>) {
        await ok(url, 'TrentService.DescribeKey', { KeyId: k.KeyId });
        await ok(url, 'Keyward.ListKeyVersions', { KeyId: k.KeyId });
      }
      marker = page.Truncated === true ? page.NextMarker as string : undefined;
    } while (marker !== undefined);

    const next = new Map<Ciphertext, true>();
    for (const w of workers) {
      const p = w.pending;
      w.pending = undefined;
      for (const key of w.keys) {
        const listed = await ok(url, 'Keyward.ListKeyVersions', { KeyId: key.keyId });
        const versions = listed.Versions as Array<{ Version: number; State: string }>;
        const rotating = p?.kind === 'rotate' && p.key === key;
        if (versions.length !== key.versions && !(rotating && versions.length === key.versions + 1)) {
          throw new Fault(`${key.keyId}: ${versions.length} versions after restart, ${key.versions} acknowledged${rotating ? ' (+1 in flight)' : ''}`);
        }
        if (listed.PrimaryVersion !== versions.length) throw new Fault(`${key.keyId}: primary ${String(listed.PrimaryVersion)} of ${versions.length} versions`);
        key.versions = versions.length;
        for (const v of versions) {
          const mayBeDestroyed = p?.kind === 'destroy' && p.key === key && p.version === v.Version;
          const expected = key.destroyed.has(v.Version) ? 'Destroyed' : 'Enabled';
          if (v.State !== expected && !(mayBeDestroyed && v.State === 'Destroyed')) {
            throw new Fault(`${key.keyId} v${v.Version}: state ${v.State}, acknowledged ${expected}`);
          }
          if (v.State === 'Destroyed') key.destroyed.add(v.Version);
        }
        const sample = full ? key.ciphertexts : key.ciphertexts.filter((c) => !checkedUpTo.has(c) || randomInt(20) === 0);
        for (const c of sample) {
          const r = await call(url, 'TrentService.Decrypt', { CiphertextBlob: c.blob, EncryptionContext: c.context });
          report.ciphertextsChecked += 1;
          if (key.destroyed.has(c.version)) {
            if (r.body.__type !== 'InvalidCiphertextException') throw new Fault(`${key.keyId} v${c.version} is destroyed but its ciphertext answered ${r.status} ${String(r.body.__type)}`);
          } else if (r.status !== 200 || r.body.Plaintext !== c.plaintext) {
            throw new Fault(`acknowledged ciphertext under ${key.keyId} v${c.version} does not decrypt: ${r.status} ${JSON.stringify(r.body)}`);
          }
        }
        for (const c of key.ciphertexts) next.set(c, true);
      }
      const aliases = await ok(url, 'TrentService.ListAliases', { Limit: 100 });
      const actual = new Map((aliases.Aliases as Array<{ AliasName: string; TargetKeyId?: string }>).map((a) => [a.AliasName, a.TargetKeyId]));
      for (const [alias, target] of w.aliases) {
        const got = actual.get(alias);
        const inFlight = p?.kind === 'alias' && p.alias === alias;
        if (got !== target && !(inFlight && got === p.to)) throw new Fault(`${alias} points at ${String(got)}, acknowledged ${target}`);
        if (got !== undefined) w.aliases.set(alias, got);
      }
      if (p?.kind === 'alias' && p.from === undefined && actual.get(p.alias) === p.to) w.aliases.set(p.alias, p.to);
    }
    checkedUpTo = next;
  };

  try {
    // Cycle: load, SIGKILL at a random moment, SQLite file check, restart, verify the ledger.
    await verify(await start(), true);
    for (let cycle = 0; cycle < options.cycles; cycle++) {
      const faults: string[] = [];
      const url = server!.url;
      const loadMs = randomInt(options.minLoadMs ?? 150, (options.maxLoadMs ?? 1200) + 1);
      let killed = false;
      const loops = workers.map(async (w) => {
        while (!killed) {
          try {
            await step(url, w);
            w.pending = undefined;
            report.acknowledged += 1;
          } catch (e) {
            if (!(e instanceof Fault)) return; // the connection died with the server: the pending op is uncertain
            faults.push(`live: ${e.message}`);
            w.pending = undefined;
          }
        }
      });
      const ackedBefore = report.acknowledged;
      await new Promise((r) => setTimeout(r, loadMs));
      // a loaded machine may acknowledge nothing in a short window: the kill comes only once this
      // cycle has acknowledged some operations (else the cycle would prove nothing)
      await eventually(() => report.acknowledged - ackedBefore >= MIN_ACKNOWLEDGED_PER_CYCLE, 30_000);
      killed = true;
      server!.proc.kill('SIGKILL');
      await server!.stop();
      await Promise.all(loops);
      report.uncertain += workers.filter((w) => w.pending !== undefined).length;
      options.afterKill?.(dataDir);
      try {
        if (options.store === undefined) checkSqliteFile(join(dataDir, 'keyward.db'));
        await verify(await start(), cycle === options.cycles - 1);
      } catch (e) {
        if (!(e instanceof Fault)) throw e;
        faults.push(e.message);
      }
      if (faults.length === 0) {
        report.passed += 1;
      } else {
        report.failed += 1;
        report.failures.push(...faults.map((f) => `cycle ${cycle + 1}: ${f}`));
      }
      log(`cycle ${cycle + 1}/${options.cycles}: killed after ${loadMs} ms; ${report.acknowledged} acknowledged so far${faults.length > 0 ? `; FAILED: ${faults.join('; ')}` : ''}`);
    }
    await server!.stop();
  } finally {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const keys = workers.flatMap((w) => w.keys);
  return {
    ...report,
    keys: keys.length,
    versions: keys.reduce((n, k) => n + k.versions, 0),
    destroyedVersions: keys.reduce((n, k) => n + k.destroyed.size, 0),
  };
}

/** The SQLite file opens and passes its own integrity check while no server holds it. */
function checkSqliteFile(path: string): void {
  const db = new Database(path, { fileMustExist: true });
  try {
    const result = db.pragma('integrity_check', { simple: true });
    if (result !== 'ok') throw new Fault(`SQLite integrity_check after SIGKILL: ${String(result)}`);
  } finally {
    db.close();
  }
}
