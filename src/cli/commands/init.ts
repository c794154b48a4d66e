import type { Command } from 'commander';
import { printJson, UsageError } from '../io.js';
import { passphrase } from '../secrets.js';
import { configFrom, type ServerFlags } from './server.js';

interface InitFlags extends ServerFlags {
  readonly json?: boolean;
  readonly credentialsFile?: string;
}

export function registerInit(program: Command): void {
  program.command('init')
    .description('create a new installation in the data directory (server stopped or not yet started) and print the admin credentials once')
    .option('--data-dir <dir>', 'data directory (env KEYWARD_DATA_DIR, default ./.keyward)')
    .option('--store <store>', 'sqlite (default), sqlite:PATH or postgres://USER@HOST:PORT/DB (env KEYWARD_STORE)')
    .option('--config <file>', 'JSON configuration file')
    .option('--passphrase-file <file>', 'file holding the new passphrase (else KEYWARD_PASSPHRASE, else a prompt)')
    .option('--credentials-file <file>', 'where to write the admin credentials (default DATA_DIR/admin-credentials.json)')
    .option('--json', 'print the admin credentials as JSON')
    .action(async (flags: InitFlags) => {
      const { credentialsPath, initializeInstallation, openInstallation, writeCredentialsFile } = await import('../../server.js');
      const config = configFrom({ ...flags, logLevel: 'silent' });
      const secret = await passphrase(flags, { confirm: true });
      if (secret === undefined) throw new UsageError('no passphrase: set KEYWARD_PASSPHRASE, pass --passphrase-file, or run on a terminal');
      const installation = openInstallation(config);
      try {
        const creds = await initializeInstallation(installation, secret);
        const file = flags.credentialsFile ?? credentialsPath(config);
        writeCredentialsFile(file, creds);
        if (flags.json) {
          printJson({ ...creds, credentials_file: file });
        } else {
          process.stdout.write([
            'Keyward initialized.',
            `  tenant:            ${creds.tenant} (account ${creds.account_id})`,
            `  admin access key:  ${creds.access_key_id}`,
            `  admin secret key:  ${creds.secret_access_key}`,
            `  admin token:       ${creds.token}`,
            `These credentials are shown once; a copy is in ${file} (mode 0600).`,
            '',
          ].join('\n'));
        }
      } finally {
        await installation.close();
      }
    });
}
