import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.js';
import { reportError, setOutput, type OutputOptions } from './io.js';

/** The program with its global flags and no command (main.ts and file-main.ts add theirs). */
export function baseProgram(): Command {
  const program = new Command('keyward')
    .description('Keyward: a self-hosted key management service that speaks the AWS KMS protocol')
    .version(VERSION)
    .option('--output <format>', 'json (default) or text; dates are ISO 8601 either way')
    .option('--query <path>', 'print one field of the result, e.g. KeyMetadata.KeyId or Keys[].KeyId')
    .showHelpAfterError()
    .exitOverride();
  // global flags, accepted before or after the command
  program.hook('preAction', () => setOutput(program.opts<OutputOptions>()));
  return program;
}

/** Parses argv with the program `build` makes and answers the exit code. */
export async function runProgram(argv: string[], build: () => Command | Promise<Command>): Promise<number> {
  // Every file Keyward writes (store, credentials, sockets) is readable by its owner only.
  process.umask(0o077);
  try {
    await (await build()).parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    return reportError(e);
  }
}
