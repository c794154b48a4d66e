import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { withClient, withConnection, type ConnectionFlags } from '../connection.js';
import { printJson, readText, UsageError } from '../io.js';

type Flags = ConnectionFlags & Record<string, string | undefined>;

interface ReportLike {
  readonly ok: boolean;
  readonly firstBreak: { readonly kind: string; readonly seq: number; readonly chain: string; readonly message: string } | null;
}

function positiveInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

function time(name: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new UsageError(`${name} must be an ISO 8601 time (e.g. 2026-01-31T12:00:00Z), got ${JSON.stringify(v)}`);
  return d.toISOString();
}

/** Prints the report; the exit code says whether the log is intact (0) or broken (3). */
function finish(report: ReportLike): void {
  printJson(report);
  if (!report.ok && report.firstBreak !== null) {
    const b = report.firstBreak;
    console.error(`audit log broken: chain ${b.chain}, record ${b.seq}: ${b.kind}: ${b.message}`);
    process.exitCode = 3;
  }
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('query and verify the tamper-evident audit log');
  const sub = (name: string, description: string) => withConnection(audit.command(name)).description(description);

  sub('verify', 'walk the hash chain and the signed checkpoints; report the first break (exit code 3 when broken)')
    .option('--from <seq>', 'start at this sequence number')
    .option('--public-key <file>', 'check checkpoint signatures with these public keys: the output of `keyward audit checkpoint-keys` (every version, JSON or --pem), or one PEM key')
    .option('--file <log>', 'verify a JSON-lines audit file (the file sink or an export) offline, without a server')
    .option('--chain <chain>', 'only this chain (node id)')
    .action(async (f: Flags) => {
      const from = positiveInt('--from', f.from);
      const pem = f.publicKey !== undefined ? readFileSync(f.publicKey, 'utf8') : undefined;
      if (f.file !== undefined) {
        const tools = await import('../../audit-tools.js');
        if (pem === undefined) console.error('warning: no --public-key: checkpoint signatures are not checked (a rewritten chain would pass)');
        let publicKeys;
        try {
          publicKeys = pem === undefined ? undefined : tools.parsePublicKeys(pem);
        } catch (e) {
          throw new UsageError(`--public-key ${f.publicKey ?? ''}: ${(e as Error).message}`);
        }
        const report = tools.verifyFile(f.file, {
          now: new Date(),
          ...(from !== undefined ? { from } : {}),
          ...(publicKeys !== undefined ? { publicKeys } : {}),
        });
        finish(report);
        return;
      }
      await withClient(f, async (c) => finish(await c.send<ReportLike & Record<string, unknown>>('Keyward.VerifyAudit', {
        ...(from !== undefined ? { FromSeq: from } : {}),
        ...(pem !== undefined ? { PublicKey: pem } : {}),
        ...(f.chain !== undefined ? { Chain: f.chain } : {}),
      })));
    });

  sub('tail', 'the newest records across every chain, i.e. every node (or only --chain)')
    .option('-n, --count <n>', 'how many records (default 20, at most 1000)')
    .option('--chain <chain>', 'chain (node id)')
    .action((f: Flags) => withClient(f, async (c) => {
      const r = await c.send<{ Records: unknown[] }>('Keyward.ListAuditRecords', {
        Tail: positiveInt('--count', f.count) ?? 20, ...(f.chain !== undefined ? { Chain: f.chain } : {}),
      });
      printJson(r.Records);
    }));

  sub('search', 'records matching every filter given, across every chain (every node) unless --chain, oldest first')
    .option('--principal <name>', 'principal name')
    .option('--key <key>', 'key id or key ARN')
    .option('--op <operation>', 'operation name, e.g. Decrypt')
    .option('--since <time>', 'ISO 8601 time')
    .option('--until <time>', 'ISO 8601 time')
    .option('--chain <chain>', 'chain (node id)')
    .option('--limit <n>', 'at most this many records (default 100, at most 1000)')
    .action((f: Flags) => withClient(f, async (c) => {
      const since = time('--since', f.since);
      const until = time('--until', f.until);
      const r = await c.send<{ Records: unknown[] }>('Keyward.ListAuditRecords', {
        ...(f.principal !== undefined ? { Principal: f.principal } : {}),
        ...(f.key !== undefined ? { KeyId: f.key } : {}),
        ...(f.op !== undefined ? { Op: f.op } : {}),
        ...(since !== undefined ? { Since: since } : {}),
        ...(until !== undefined ? { Until: until } : {}),
        ...(f.chain !== undefined ? { Chain: f.chain } : {}),
        Limit: positiveInt('--limit', f.limit) ?? 100,
      });
      printJson(r.Records);
    }));

  sub('hash', 'the hmac-sha256 digest the audit log records for a value read from stdin (or --in)')
    .option('--in <file>', 'read the value from this file (default stdin); a trailing newline is dropped')
    .action((f: Flags) => withClient(f, async (c) => {
      const value = (await readText(f.in)).replace(/\r?\n$/, '');
      const r = await c.send<{ Hash: string }>('Keyward.AuditHash', { Input: value });
      process.stdout.write(`${r.Hash}\n`);
    }));

  sub('prune', 'export records older than an age to a file in the answering node\'s auditExportDir (the answer names the node) and remove them (a signed anchor keeps the rest verifiable)')
    .requiredOption('--older-than-days <n>', 'age in days')
    .option('--chain <chain>', 'chain (node id); default the server\'s own')
    .action((f: Flags) => withClient(f, async (c) => printJson(await c.send('Keyward.PruneAudit', {
      OlderThanDays: positiveInt('--older-than-days', f.olderThanDays), ...(f.chain !== undefined ? { Chain: f.chain } : {}),
    }))));

  audit.command('accept-rollback')
    .description('after a restore (or a detected rollback you have investigated): accept the store as it is now; the node forgets its anchor and re-learns the store at its next check (run on the node, with its data directory; works while it runs)')
    .option('--data-dir <dir>', 'data directory (env KEYWARD_DATA_DIR, default ./.keyward)')
    .option('--store <store>', 'sqlite (default), sqlite:PATH or postgres://USER@HOST:PORT/DB (env KEYWARD_STORE)')
    .option('--config <file>', 'JSON configuration file (env KEYWARD_CONFIG)')
    .action(async (f: Flags) => {
      const { configFrom } = await import('./server.js');
      const { storeLabel } = await import('../../maintenance.js');
      const { AnchorFile, anchorPath } = await import('../../audit-tools.js');
      const { resolve } = await import('node:path');
      const config = configFrom({ ...f, logLevel: 'silent' });
      const label = storeLabel(config.store);
      const anchor = new AnchorFile(anchorPath(resolve(config.dataDir), label), label);
      const previous = anchor.accept(new Date());
      printJson({
        anchor: anchor.path, store: label, accepted: true,
        previous: previous === undefined ? null : { epoch: previous.epoch, chains: previous.chains, updated: previous.updated },
      });
      process.stderr.write('the node accepts the store as it is at its next check (the next refused request, or within rollbackCheckMs)\n');
    });

  sub('public-key', 'the Ed25519 public key (PEM) of the checkpoint key version that signs now (after a rotation, older checkpoints need `checkpoint-keys`)')
    .action((f: Flags) => withClient(f, async (c) => {
      const r = await c.send<{ PublicKey: string }>('Keyward.GetAuditPublicKey');
      process.stdout.write(r.PublicKey);
    }));

  sub('checkpoint-keys', 'every checkpoint signing key version\'s public key (JSON; --pem: PEM blocks), for `audit verify --public-key`')
    .option('--pem', 'print only the PEM public keys, oldest version first')
    .action((f: Flags & { pem?: boolean }) => withClient(f, async (c) => {
      const r = await c.send<{ ActiveVersion: number; Keys: Array<{ Version: number; Fingerprint: string; PublicKey: string }> }>('Keyward.ListAuditPublicKeys');
      if (f.pem === true) process.stdout.write(r.Keys.map((k) => k.PublicKey).join(''));
      else printJson(r);
    }));

  sub('rotate-checkpoint-key', 'make a new checkpoint signing key version (system administrators); the old version\'s public key stays published, so its checkpoints still verify')
    .action((f: Flags) => withClient(f, async (c) => printJson(await c.send('Keyward.RotateAuditCheckpointKey'))));
}
