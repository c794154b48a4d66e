import { existsSync, rmSync } from 'node:fs';
import type { Command } from 'commander';
import { printJson, UsageError } from '../io.js';
import { passphrase } from '../secrets.js';
import { configFrom, sealFlags, type ServerFlags } from './server.js';

interface InitFlags extends ServerFlags {
  readonly json?: boolean;
  readonly credentialsFile?: string;
  readonly seal?: string;
  readonly shares?: string;
  readonly threshold?: string;
  readonly recoveryShares?: string;
  readonly recoveryThreshold?: string;
  readonly pki?: boolean;
}

const SEALS = ['passphrase', 'shamir', 'static', 'pkcs11', 'transit'];

export function integerFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,3}$/.test(value)) throw new UsageError(`${flag} must be a whole number, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** Prints shares once with the warning that they are stored nowhere. */
export function printShares(label: string, shares: readonly string[] | undefined, threshold: number | undefined): string[] {
  if (shares === undefined) return [];
  return [
    `${label} (${threshold ?? '?'} of ${shares.length} needed; shown once, stored nowhere: give each to a different operator):`,
    ...shares.map((s, i) => `  ${label.split(' ')[0]} ${i + 1}: ${s}`),
  ];
}

export function registerInit(program: Command): void {
  sealFlags(program.command('init'))
    .description('create a new installation in the data directory (server stopped or not yet started) and print the admin credentials (and any shares) once')
    .option('--data-dir <dir>', 'data directory (env KEYWARD_DATA_DIR, default ./.keyward)')
    .option('--store <store>', 'sqlite (default), sqlite:PATH or postgres://USER@HOST:PORT/DB (env KEYWARD_STORE)')
    .option('--config <file>', 'JSON configuration file')
    .option('--seal <type>', `how the root key is guarded: ${SEALS.join(', ')} (default passphrase; shamir when --shares is given)`)
    .option('--shares <n>', 'shamir seal: number of unseal shares')
    .option('--threshold <k>', 'shamir seal: shares needed to unseal')
    .option('--recovery-shares <n>', 'static, pkcs11, transit: recovery shares to make (default 5)')
    .option('--recovery-threshold <k>', 'recovery shares needed for rekey and migration (default 3)')
    .option('--passphrase-file <file>', 'passphrase seal: file holding the new passphrase (else KEYWARD_PASSPHRASE, else a prompt)')
    .option('--credentials-file <file>', 'where to write the admin credentials (default DATA_DIR/admin-credentials.json)')
    .option('--json', 'print the admin credentials (and `shares` / `recovery_shares`) as JSON')
    .option('--pki', 'also create the root CA (keyward pki create-root)')
    .action(async (flags: InitFlags) => {
      const { createRootCaInstallation, credentialsPath, initializeWithSecrets, openInstallation, sqlitePathOf, writeCredentialsFile } = await import('../../server.js');
      const config = configFrom({ ...flags, logLevel: 'silent' });
      const seal = flags.seal ?? (flags.shares !== undefined ? 'shamir' : 'passphrase');
      if (!SEALS.includes(seal)) throw new UsageError(`--seal must be one of ${SEALS.join(', ')}, got ${JSON.stringify(seal)}`);
      const request: Record<string, unknown> = {
        seal,
        shares: integerFlag(flags.shares, '--shares'),
        threshold: integerFlag(flags.threshold, '--threshold'),
        recovery_shares: integerFlag(flags.recoveryShares, '--recovery-shares'),
        recovery_threshold: integerFlag(flags.recoveryThreshold, '--recovery-threshold'),
      };
      if (seal === 'passphrase') {
        const secret = await passphrase(flags, { confirm: true });
        if (secret === undefined) throw new UsageError('no passphrase: set KEYWARD_PASSPHRASE, pass --passphrase-file, or run on a terminal');
        request.passphrase = secret;
      }
      // a failed init leaves no store file behind (a second attempt must not find a half-made one)
      const db = sqlitePathOf(config);
      const fresh = db !== undefined && !existsSync(db);
      const installation = openInstallation(config);
      let initialized = false;
      try {
        const { credentials: creds, secrets } = await initializeWithSecrets(installation, request);
        initialized = true;
        const file = flags.credentialsFile ?? credentialsPath(config);
        writeCredentialsFile(file, creds);
        const rootCa = flags.pki === true ? await createRootCaInstallation(installation, creds.token) : undefined;
        if (flags.json) {
          printJson({ ...creds, credentials_file: file, seal, ...secrets, ...(rootCa !== undefined ? { root_ca: rootCa } : {}) });
        } else {
          process.stdout.write([
            `Keyward initialized (seal: ${seal}).`,
            `  tenant:            ${creds.tenant} (account ${creds.account_id})`,
            `  admin access key:  ${creds.access_key_id}`,
            `  admin secret key:  ${creds.secret_access_key}`,
            `  admin token:       ${creds.token}`,
            `These credentials are shown once; a copy is in ${file} (mode 0600).`,
            ...(rootCa !== undefined ? [`Root CA created (serial ${rootCa.SerialNumber}); its certificate: keyward pki root.`] : []),
            ...printShares('Unseal shares', secrets.shares, integerFlag(flags.threshold, '--threshold')),
            ...printShares('Recovery shares', secrets.recovery_shares, integerFlag(flags.recoveryThreshold, '--recovery-threshold') ?? 3),
            '',
          ].join('\n'));
        }
      } finally {
        await installation.close();
        if (!initialized && fresh && db !== undefined) for (const f of [db, `${db}-wal`, `${db}-shm`, `${db}-journal`]) rmSync(f, { force: true });
      }
    });
}
