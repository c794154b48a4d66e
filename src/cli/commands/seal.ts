import type { Command } from 'commander';
import type { KeywardClient } from '../../client/index.js';
import { withClient, withConnection, type ConnectionFlags } from '../connection.js';
import { collect, printJson, UsageError } from '../io.js';
import { passphrase, promptHidden, readSecretFile } from '../secrets.js';
import { createInterface } from 'node:readline/promises';
import { integerFlag, printShares } from './init.js';
import { configFrom, sealFlags, type ServerFlags } from './server.js';

interface SealStatusView {
  readonly type?: string;
  readonly sealed?: boolean;
  readonly threshold?: number;
  readonly progress?: number;
  readonly recovery_threshold?: number;
}

interface BarrierView {
  readonly active_term: number;
  readonly terms: number[];
  readonly rewrap: { running: boolean; scanned: number; rewrapped: number };
}

interface AuthFlags {
  readonly passphraseFile?: string;
  readonly shareFile?: string[];
}

interface NewSealFlags {
  readonly newSeal?: string;
  readonly newShares?: string;
  readonly newThreshold?: string;
  readonly newRecoveryShares?: string;
  readonly newRecoveryThreshold?: string;
  readonly newPassphraseFile?: string;
}

/** One visible answer on the terminal (escrow parameters are not secret). */
async function promptLine(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(question)).trim();
  } finally {
    rl.close();
  }
}

/** Shares from --share-file (repeatable), else KEYWARD_UNSEAL_SHARES (comma separated), else no-echo prompts. */
async function sharesFor(flags: AuthFlags, needed: number, what: string): Promise<string[]> {
  if (flags.shareFile !== undefined && flags.shareFile.length > 0) return flags.shareFile.map((f) => readSecretFile(f, 'share'));
  const env = process.env.KEYWARD_UNSEAL_SHARES;
  if (env !== undefined && env !== '') return env.split(',').map((s) => s.trim());
  if (!process.stdin.isTTY) throw new UsageError(`no ${what}: pass --share-file (once per share), set KEYWARD_UNSEAL_SHARES, or run on a terminal`);
  const out: string[] = [];
  for (let i = 1; i <= needed; i++) out.push(await promptHidden(`${what} ${i}/${needed}: `));
  return out;
}

/** The proof of the current seal a rekey or root rotation needs. */
async function authorization(c: KeywardClient, flags: AuthFlags): Promise<Record<string, unknown>> {
  const status = await c.sys<SealStatusView>('GET', 'seal-status');
  if (status.type === 'passphrase') {
    const secret = await passphrase(flags);
    if (secret === undefined) throw new UsageError('no current passphrase: set KEYWARD_PASSPHRASE, pass --passphrase-file, or run on a terminal');
    return { passphrase: secret };
  }
  const shamir = status.type === 'shamir';
  const needed = (shamir ? status.threshold : status.recovery_threshold) ?? 1;
  return { shares: await sharesFor(flags, needed, shamir ? 'Unseal share' : 'Recovery share') };
}

/** The new seal for rekey: --new-seal (default: the current type), layouts and the new passphrase. */
async function newSeal(flags: NewSealFlags, currentType: string | undefined): Promise<Record<string, unknown>> {
  const type = flags.newSeal ?? (flags.newShares !== undefined ? 'shamir' : currentType ?? 'passphrase');
  const body: Record<string, unknown> = {
    new_seal: type,
    new_shares: integerFlag(flags.newShares, '--new-shares'),
    new_threshold: integerFlag(flags.newThreshold, '--new-threshold'),
    new_recovery_shares: integerFlag(flags.newRecoveryShares, '--new-recovery-shares'),
    new_recovery_threshold: integerFlag(flags.newRecoveryThreshold, '--new-recovery-threshold'),
  };
  if (type === 'passphrase') body.new_passphrase = await newPassphrase(flags);
  return body;
}

async function newPassphrase(flags: NewSealFlags): Promise<string> {
  if (flags.newPassphraseFile !== undefined) return readSecretFile(flags.newPassphraseFile, 'new passphrase');
  const env = process.env.KEYWARD_NEW_PASSPHRASE;
  if (env !== undefined && env !== '') return env;
  if (!process.stdin.isTTY) throw new UsageError('no new passphrase: set KEYWARD_NEW_PASSPHRASE, pass --new-passphrase-file, or run on a terminal');
  const first = await promptHidden('New passphrase: ');
  if (await promptHidden('Repeat new passphrase: ') !== first) throw new UsageError('the new passphrases do not match');
  return first;
}

function printSecrets(result: Record<string, unknown>, json: boolean | undefined): void {
  if (json) {
    printJson(result);
    return;
  }
  const lines = [
    `Done. Seal: ${String(result.type)}.`,
    ...printShares('Unseal shares', result.shares as string[] | undefined, result.threshold as number | undefined),
    ...printShares('Recovery shares', result.recovery_shares as string[] | undefined, result.recovery_threshold as number | undefined),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function authFlags(cmd: Command): Command {
  return cmd
    .option('--passphrase-file <file>', 'current passphrase (else KEYWARD_PASSPHRASE, else a prompt)')
    .option('--share-file <file>', 'a current unseal or recovery share (repeat per share; else KEYWARD_UNSEAL_SHARES, else prompts)', collect);
}

function newSealFlags(cmd: Command): Command {
  return cmd
    .option('--new-seal <type>', 'passphrase, shamir, static, pkcs11 or transit (default: the current type)')
    .option('--new-shares <n>', 'shamir: number of new unseal shares')
    .option('--new-threshold <k>', 'shamir: shares needed')
    .option('--new-recovery-shares <n>', 'auto-unseal seals: make new recovery shares')
    .option('--new-recovery-threshold <k>', 'recovery shares needed')
    .option('--new-passphrase-file <file>', 'passphrase seal: the new passphrase (else KEYWARD_NEW_PASSPHRASE, else a prompt)')
    .option('--json', 'print the result (and any new shares) as JSON');
}

export function registerSeal(program: Command): void {
  withConnection(program.command('status'))
    .description('seal status of the server (initialized, sealed, seal type, shamir progress)')
    .action((flags: ConnectionFlags) => withClient(flags, async (c) => {
      const status = await c.sys<{ warnings?: string[] }>('GET', 'seal-status');
      printJson(status);
      for (const w of status.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
    }));

  withConnection(program.command('unseal'))
    .description('unseal the server: the passphrase, one shamir share (prompted without echo), or a retry of an auto-unseal seal')
    .option('--passphrase-file <file>', 'file holding the passphrase')
    .option('--share-file <file>', 'file holding one unseal share (else KEYWARD_UNSEAL_SHARE, else a no-echo prompt)')
    .option('--reset', 'forget the shares given so far on this node')
    .option('--nonce <nonce>', 'shamir: the nonce the first share answered (else KEYWARD_UNSEAL_NONCE); needed for later shares and --reset')
    .action((flags: ConnectionFlags & { passphraseFile?: string; shareFile?: string; reset?: boolean; nonce?: string }) => withClient(flags, async (c) => {
      const nonce = flags.nonce ?? (process.env.KEYWARD_UNSEAL_NONCE || undefined);
      if (flags.reset) {
        printJson(await c.sys('POST', 'unseal', { reset: true, ...(nonce !== undefined ? { nonce } : {}) }));
        return;
      }
      const status = await c.sys<SealStatusView>('GET', 'seal-status');
      if (status.type === 'shamir') {
        if (status.sealed === false) {
          printJson(status);
          return;
        }
        let share = flags.shareFile !== undefined ? readSecretFile(flags.shareFile, 'share') : process.env.KEYWARD_UNSEAL_SHARE;
        if (share === undefined || share === '') {
          if (!process.stdin.isTTY) throw new UsageError('no share: pass --share-file, set KEYWARD_UNSEAL_SHARE, or run on a terminal');
          share = await promptHidden(`Unseal share (${(status.progress ?? 0) + 1}/${status.threshold ?? '?'}): `);
        }
        const r = await c.sys<SealStatusView & { nonce?: string }>('POST', 'unseal', { share: share.trim(), ...(nonce !== undefined ? { nonce } : {}) });
        if (r.sealed) {
          process.stderr.write(`progress: ${r.progress ?? 0}/${r.threshold ?? '?'}\n`);
          if (r.nonce !== undefined && nonce === undefined) process.stderr.write(`nonce: ${r.nonce} (the next operators pass --nonce ${r.nonce} or set KEYWARD_UNSEAL_NONCE)\n`);
        }
        printJson(r);
        return;
      }
      if (status.type === 'passphrase' || status.type === undefined) {
        const secret = await passphrase(flags);
        if (secret === undefined) throw new UsageError('no passphrase: set KEYWARD_PASSPHRASE, pass --passphrase-file, or run on a terminal');
        printJson(await c.sys('POST', 'unseal', { passphrase: secret }));
        return;
      }
      printJson(await c.sys('POST', 'unseal', {}));
    }));

  withConnection(program.command('seal'))
    .description('seal the server: every key is forgotten until the next unseal (system admin)')
    .action((flags: ConnectionFlags) => withClient(flags, async (c) => printJson(await c.sys('POST', 'seal', {}, true))));

  newSealFlags(authFlags(withConnection(program.command('rekey'))))
    .description('online rekey or seal migration (system admin): new passphrase, new shares or another seal; re-wraps only the root key')
    .action((flags: ConnectionFlags & AuthFlags & NewSealFlags & { json?: boolean }) => withClient(flags, async (c) => {
      const auth = await authorization(c, flags);
      const current = await c.sys<SealStatusView>('GET', 'seal-status');
      const target = await newSeal(flags, current.type);
      printSecrets(await c.sys('POST', 'rekey', { ...auth, ...target }, true), flags.json);
    }));

  authFlags(withConnection(program.command('rotate-root')))
    .option('--escrow-shares <n>', 're-issue escrow shares of the new root key (the old ones recover nothing after the rotation)')
    .option('--escrow-threshold <k>', 'escrow shares needed to recover (default 3)')
    .option('--i-understand-escrow-is-invalidated', 'rotate although escrow shares were issued, without re-issuing them')
    .option('--json', 'print the result as JSON')
    .description('replace the root key (system admin): re-wraps only the keyring record; shares and passphrase stay; escrow shares are re-issued or invalidated')
    .action((flags: ConnectionFlags & AuthFlags & { json?: boolean; escrowShares?: string; escrowThreshold?: string; iUnderstandEscrowIsInvalidated?: boolean }) => withClient(flags, async (c) => {
      const status = await c.sys<SealStatusView & { escrow?: { shares: number; threshold: number; issued_at: string; stale: boolean } }>('GET', 'seal-status');
      let escrowShares = integerFlag(flags.escrowShares, '--escrow-shares');
      let escrowThreshold = integerFlag(flags.escrowThreshold, '--escrow-threshold');
      const accept = flags.iUnderstandEscrowIsInvalidated === true;
      const live = status.escrow !== undefined && !status.escrow.stale;
      if (live && escrowShares === undefined && escrowThreshold === undefined && !accept) {
        const e = status.escrow!;
        const why = `escrow shares were issued at ${e.issued_at} (${e.threshold} of ${e.shares}); after this rotation they recover nothing`;
        if (!process.stdin.isTTY) throw new UsageError(`${why}: pass --escrow-shares N --escrow-threshold K to re-issue them now, or --i-understand-escrow-is-invalidated`);
        process.stderr.write(`Note: ${why}. New escrow shares are issued with the rotation.\n`);
        escrowShares = integerFlag((await promptLine(`Escrow shares [${e.shares}]: `)) || String(e.shares), 'escrow shares');
        escrowThreshold = integerFlag((await promptLine(`Escrow threshold [${e.threshold}]: `)) || String(e.threshold), 'escrow threshold');
      }
      const auth = await authorization(c, flags);
      const r = await c.sys<Record<string, unknown>>('POST', 'rotate-root', {
        ...auth, escrow_shares: escrowShares, escrow_threshold: escrowThreshold, ...(accept ? { i_understand_escrow_is_invalidated: true } : {}),
      }, true);
      printSecrets(r, flags.json);
      if (!flags.json && r.escrow_shares !== undefined) {
        process.stdout.write(`${printShares('Escrow shares (the old ones recover nothing now)', r.escrow_shares as string[], r.escrow_threshold as number).join('\n')}\n`);
      }
      for (const w of (r.warnings as string[] | undefined) ?? []) process.stderr.write(`warning: ${w}\n`);
    }));

  withConnection(program.command('rotate-barrier'))
    .description('add a barrier term (system admin): new records use it now, older ones are re-wrapped in the background')
    .option('--wait', 'poll the status until the re-wrap has finished and the old terms are dropped')
    .action((flags: ConnectionFlags & { wait?: boolean }) => withClient(flags, async (c) => {
      const started = await c.sys<{ barrier?: BarrierView }>('POST', 'rotate-barrier', {}, true);
      let barrier = started.barrier;
      while (flags.wait && barrier !== undefined && (barrier.rewrap.running || barrier.terms.length > 1)) {
        process.stderr.write(`re-wrap: ${barrier.rewrap.rewrapped} records moved, ${barrier.rewrap.scanned} scanned; terms ${barrier.terms.join(', ')}\n`);
        await new Promise((r) => setTimeout(r, 500));
        barrier = (await c.sys<{ barrier?: BarrierView }>('GET', 'seal-status')).barrier;
      }
      printJson(flags.wait ? { ...started, barrier } : started);
    }));

  authFlags(withConnection(program.command('escrow')))
    .description('export the root key as Shamir escrow shares for disaster recovery (system admin; shown once, stored nowhere)')
    .option('--escrow-shares <n>', 'number of escrow shares (default 5)')
    .option('--escrow-threshold <k>', 'escrow shares needed to recover (default 3)')
    .option('--json', 'print the shares as JSON')
    .action((flags: ConnectionFlags & AuthFlags & { escrowShares?: string; escrowThreshold?: string; json?: boolean }) => withClient(flags, async (c) => {
      const auth = await authorization(c, flags);
      const r = await c.sys<{ escrow_shares: string[]; escrow_threshold: number }>('POST', 'escrow', {
        ...auth, escrow_shares: integerFlag(flags.escrowShares, '--escrow-shares'), escrow_threshold: integerFlag(flags.escrowThreshold, '--escrow-threshold'),
      }, true);
      if (flags.json) printJson(r);
      else process.stdout.write(`${printShares('Escrow shares', r.escrow_shares, r.escrow_threshold).join('\n')}\nWith a store backup, \`keyward recover\` rebuilds the installation from these.\n`);
    }));

  newSealFlags(sealFlags(program.command('recover')))
    .description('offline disaster recovery: open a restored data directory with escrow shares and guard its root key with a new seal')
    .option('--data-dir <dir>', 'the restored data directory (env KEYWARD_DATA_DIR)')
    .option('--store <store>', 'sqlite (default) or sqlite:PATH')
    .option('--config <file>', 'JSON configuration file')
    .option('--escrow-share-file <file>', 'an escrow share (repeat per share; else KEYWARD_ESCROW_SHARES comma separated)', collect)
    .action(async (flags: ServerFlags & NewSealFlags & { escrowShareFile?: string[]; json?: boolean }) => {
      const { openInstallation, recoverInstallation } = await import('../../server.js');
      const config = configFrom({ ...flags, logLevel: 'silent' });
      const shares = flags.escrowShareFile !== undefined && flags.escrowShareFile.length > 0
        ? flags.escrowShareFile.map((f) => readSecretFile(f, 'escrow share'))
        : (process.env.KEYWARD_ESCROW_SHARES ?? '').split(',').map((x) => x.trim()).filter(Boolean);
      if (shares.length === 0) throw new UsageError('no escrow shares: pass --escrow-share-file once per share, or set KEYWARD_ESCROW_SHARES');
      const target = await newSeal(flags, 'passphrase');
      const installation = openInstallation(config);
      try {
        const result = await recoverInstallation(installation, shares, target);
        printSecrets({ type: target.new_seal, ...result }, flags.json);
      } finally {
        await installation.close();
      }
    });

  sealFlags(program.command('change-passphrase'))
    .description('offline: change the passphrase of a stopped server\'s data directory (re-wraps only the root key)')
    .option('--data-dir <dir>', 'data directory (env KEYWARD_DATA_DIR, default ./.keyward)')
    .option('--store <store>', 'sqlite (default) or sqlite:PATH')
    .option('--config <file>', 'JSON configuration file')
    .option('--passphrase-file <file>', 'current passphrase (else KEYWARD_PASSPHRASE, else a prompt)')
    .option('--new-passphrase-file <file>', 'new passphrase (else KEYWARD_NEW_PASSPHRASE, else a prompt)')
    .action(async (flags: ServerFlags & NewSealFlags) => {
      const { changePassphraseOffline, checkPassphrase, openInstallation, runningServerPid } = await import('../../server.js');
      const config = configFrom({ ...flags, logLevel: 'silent' });
      const pid = runningServerPid(config);
      if (pid !== undefined) {
        throw new UsageError(`a Keyward server (pid ${pid}) is running on ${config.dataDir}: stop it first, or change the passphrase online with \`keyward rekey\``);
      }
      const current = await passphrase(flags);
      if (current === undefined) throw new UsageError('no current passphrase: set KEYWARD_PASSPHRASE, pass --passphrase-file, or run on a terminal');
      const next = await newPassphrase(flags);
      // refused before the store is opened: a bad new passphrase must leave it untouched
      checkPassphrase(next);
      const installation = openInstallation(config);
      try {
        const status = await installation.seal.status();
        if (!status.initialized) throw new UsageError(`${config.dataDir} holds no Keyward installation`);
        if (status.type !== 'passphrase') throw new UsageError(`this installation uses the ${status.type ?? '?'} seal; use \`keyward rekey\` against the running server`);
        await changePassphraseOffline(installation, current, next);
        process.stdout.write('Passphrase changed. Only the root key was re-wrapped; no data was touched.\n');
      } finally {
        await installation.close();
      }
    });

  withConnection(program.command('whoami'))
    .description('the principal the credentials belong to')
    .action((flags: ConnectionFlags) => withClient(flags, async (c) => printJson(await c.send('Keyward.GetCallerIdentity'))));
}
