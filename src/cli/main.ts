import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.js';
import { registerAudit } from './commands/audit.js';
import { registerData } from './commands/data.js';
import { registerDev } from './commands/dev.js';
import { registerFile } from './commands/file.js';
import { registerInit } from './commands/init.js';
import { registerAlias, registerKey, registerPrincipal, registerTenant } from './commands/key.js';
import { registerScope } from './commands/scope.js';
import { registerPki } from './commands/pki.js';
import { registerSeal } from './commands/seal.js';
import { registerServer } from './commands/server.js';
import { registerStore } from './commands/store.js';
import { reportError, setOutput, type OutputOptions } from './io.js';

export function buildProgram(): Command {
  const program = new Command('keyward')
    .description('Keyward: a self-hosted key management service that speaks the AWS KMS protocol')
    .version(VERSION)
    .option('--output <format>', 'json (default) or text; dates are ISO 8601 either way')
    .option('--query <path>', 'print one field of the result, e.g. KeyMetadata.KeyId or Keys[].KeyId')
    .showHelpAfterError()
    .exitOverride();
  // global flags, accepted before or after the command
  program.hook('preAction', () => setOutput(program.opts<OutputOptions>()));
  registerServer(program);
  registerDev(program);
  registerInit(program);
  registerSeal(program);
  registerKey(program);
  registerAlias(program);
  registerPrincipal(program);
  registerTenant(program);
  registerData(program);
  registerScope(program);
  registerStore(program);
  registerAudit(program);
  registerFile(program);
  registerPki(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  // Every file Keyward writes (store, credentials, sockets) is readable by its owner only.
  process.umask(0o077);
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    return reportError(e);
  }
}
