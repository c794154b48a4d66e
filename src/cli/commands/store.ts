import type { Command } from 'commander';
import { printJson, UsageError } from '../io.js';
import { passphrase } from '../secrets.js';
import { configFrom, sealFlags, type ServerFlags } from './server.js';

interface StoreFlags extends ServerFlags {
  readonly out?: string;
  readonly in?: string;
  readonly from?: string;
  readonly to?: string;
  readonly excludeTenant?: string;
}

const storeOptions = (cmd: Command) => cmd
  .option('--data-dir <dir>', 'data directory (env KEYWARD_DATA_DIR, default ./.keyward)')
  .option('--store <store>', 'sqlite (default), sqlite:PATH or postgres://USER@HOST:PORT/DB (env KEYWARD_STORE)')
  .option('--config <file>', 'JSON configuration file (env KEYWARD_CONFIG)');

/** `keyward backup`, `keyward restore` and `keyward store migrate`: they move encrypted records, never plaintext. */
export function registerStore(program: Command): void {
  sealFlags(storeOptions(program.command('backup')))
    .description('write a consistent snapshot of the store to a file (records stay encrypted; the same seal unseals a restore); safe while servers run')
    .requiredOption('--out <file>', 'the backup file to create (0600; must not exist)')
    .option('--exclude-tenant <id>', 'leave out every record of this tenant (a deleted or pending one); needs the seal: KEYWARD_PASSPHRASE or --passphrase-file, KEYWARD_UNSEAL_SHARES, or the auto-unseal seal\'s flags')
    .option('--passphrase-file <file>', 'with --exclude-tenant: the passphrase (else KEYWARD_PASSPHRASE, else a prompt)')
    .action(async (flags: StoreFlags) => {
      if (flags.excludeTenant !== undefined) {
        const { backupWithoutTenant } = await import('../../server.js');
        const { storeLabel } = await import('../../maintenance.js');
        const config = configFrom({ ...flags, logLevel: 'silent' });
        const r = await backupWithoutTenant(config, flags.out!, flags.excludeTenant, async (sealType) => {
          if (sealType === 'shamir') return { shares: (process.env.KEYWARD_UNSEAL_SHARES ?? '').split(',').map((x) => x.trim()).filter(Boolean) };
          const secret = await passphrase(flags);
          if (secret === undefined) throw new UsageError('--exclude-tenant needs the passphrase: set KEYWARD_PASSPHRASE, pass --passphrase-file, or run on a terminal');
          return { passphrase: secret };
        });
        if (r.excluded === 0) process.stderr.write(`warning: the store holds no record of tenant ${flags.excludeTenant}; the backup is complete\n`);
        printJson({ out: flags.out, entries: r.entries, excluded: r.excluded, excludedTenant: flags.excludeTenant, store: storeLabel(config.store) });
        return;
      }
      const { openStore } = await import('../../server.js');
      const { backupStore, storeLabel } = await import('../../maintenance.js');
      const config = configFrom({ ...flags, logLevel: 'silent' });
      const store = openStore(config);
      try {
        const entries = await backupStore(store, flags.out!, storeLabel(config.store));
        printJson({ out: flags.out, entries, store: storeLabel(config.store) });
      } finally {
        await store.close();
      }
    });

  storeOptions(program.command('restore'))
    .description('write a backup into an empty store (one transaction: all or nothing); unseal it with the seal of the backed-up installation')
    .requiredOption('--in <file>', 'the backup file')
    .action(async (flags: StoreFlags) => {
      const { openStore } = await import('../../server.js');
      const { restoreStore, storeLabel } = await import('../../maintenance.js');
      const config = configFrom({ ...flags, logLevel: 'silent' });
      const store = openStore(config);
      try {
        const r = await restoreStore(store, flags.in!);
        printJson({ in: flags.in, ...r, store: storeLabel(config.store) });
      } finally {
        await store.close();
      }
    });

  program.command('store').description('store maintenance')
    .command('migrate')
    .description('copy a whole installation into another, empty store (e.g. sqlite to postgres); records stay encrypted, the same passphrase unseals it')
    .requiredOption('--from <store>', 'source: sqlite:PATH, postgres://... (or sqlite for DATA_DIR/keyward.db)')
    .requiredOption('--to <store>', 'target: an empty store, e.g. postgres://USER@HOST:PORT/DB')
    .option('--data-dir <dir>', 'data directory for a plain `sqlite` source or target')
    .action(async (flags: StoreFlags) => {
      if (flags.from === flags.to) throw new UsageError('--from and --to name the same store');
      const { openStore } = await import('../../server.js');
      const { migrateStore, storeLabel } = await import('../../maintenance.js');
      const from = openStore(configFrom({ ...flags, store: flags.from!, logLevel: 'silent' }));
      try {
        const to = openStore(configFrom({ ...flags, store: flags.to!, logLevel: 'silent' }));
        try {
          const entries = await migrateStore(from, to);
          printJson({ from: storeLabel(flags.from!), to: storeLabel(flags.to!), entries });
        } finally {
          await to.close();
        }
      } finally {
        await from.close();
      }
    });
}
