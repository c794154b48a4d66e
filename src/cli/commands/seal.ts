import type { Command } from 'commander';
import { withClient, withConnection, type ConnectionFlags } from '../connection.js';
import { printJson, UsageError } from '../io.js';
import { passphrase } from '../secrets.js';

export function registerSeal(program: Command): void {
  withConnection(program.command('status'))
    .description('seal status of the server (initialized, sealed, seal type)')
    .action((flags: ConnectionFlags) => withClient(flags, async (c) => printJson(await c.sys('GET', 'seal-status'))));

  withConnection(program.command('unseal'))
    .description('unseal the server with the passphrase (KEYWARD_PASSPHRASE, --passphrase-file or a no-echo prompt)')
    .option('--passphrase-file <file>', 'file holding the passphrase')
    .action((flags: ConnectionFlags & { passphraseFile?: string }) => withClient(flags, async (c) => {
      const secret = await passphrase(flags);
      if (secret === undefined) throw new UsageError('no passphrase: set KEYWARD_PASSPHRASE, pass --passphrase-file, or run on a terminal');
      printJson(await c.sys('POST', 'unseal', { passphrase: secret }));
    }));

  withConnection(program.command('seal'))
    .description('seal the server: every key is forgotten until the next unseal (system admin)')
    .action((flags: ConnectionFlags) => withClient(flags, async (c) => printJson(await c.sys('POST', 'seal', {}, true))));

  withConnection(program.command('whoami'))
    .description('the principal the credentials belong to')
    .action((flags: ConnectionFlags) => withClient(flags, async (c) => printJson(await c.send('Keyward.GetCallerIdentity'))));
}
