import type { Command } from 'commander';
import { baseProgram, runProgram } from './program.js';

type Register = (program: Command) => void;

/**
 * The command modules, in help order, each loaded only when needed: a command's module pulls in
 * what it uses (the server and its config schema, the HTTP client and SigV4, gRPC, the progress
 * bar), and a one-shot command such as `encrypt-file` or `--version` should not pay for the rest.
 */
const MODULES: ReadonlyArray<{ readonly commands: readonly string[]; readonly load: () => Promise<readonly Register[]> }> = [
  { commands: ['server'], load: async () => [(await import('./commands/server.js')).registerServer] },
  { commands: ['dev'], load: async () => [(await import('./commands/dev.js')).registerDev] },
  { commands: ['init'], load: async () => [(await import('./commands/init.js')).registerInit] },
  {
    commands: ['status', 'unseal', 'seal', 'rekey', 'rotate-root', 'rotate-barrier', 'escrow', 'recover', 'change-passphrase', 'whoami'],
    load: async () => [(await import('./commands/seal.js')).registerSeal],
  },
  {
    commands: ['key', 'alias', 'principal', 'tenant'],
    load: async () => {
      const m = await import('./commands/key.js');
      return [m.registerKey, m.registerAlias, m.registerPrincipal, m.registerTenant];
    },
  },
  { commands: ['encrypt', 'decrypt', 're-encrypt', 'generate-data-key'], load: async () => [(await import('./commands/data.js')).registerData] },
  { commands: ['scope'], load: async () => [(await import('./commands/scope.js')).registerScope] },
  { commands: ['backup', 'restore', 'store'], load: async () => [(await import('./commands/store.js')).registerStore] },
  { commands: ['audit'], load: async () => [(await import('./commands/audit.js')).registerAudit] },
  { commands: ['encrypt-file', 'decrypt-file'], load: async () => [(await import('./commands/file.js')).registerFile] },
  { commands: ['pki'], load: async () => [(await import('./commands/pki.js')).registerPki] },
];

/** Every command name, for tests that check the table against the registered commands. */
export const COMMAND_NAMES: readonly string[] = MODULES.flatMap((m) => m.commands);

/** The program with every command registered (help, completion, tests). */
export async function buildProgram(): Promise<Command> {
  const program = baseProgram();
  for (const m of MODULES) for (const register of await m.load()) register(program);
  return program;
}

/**
 * The program for these arguments: only the named command's module when the first word is a
 * known command; none for a bare `--version`; all of them otherwise (help, an unknown command
 * and its suggestion).
 */
export async function programFor(argv: readonly string[]): Promise<Command> {
  const args = argv.slice(2);
  const word = args.find((a) => !a.startsWith('-'));
  if (word === undefined && (args.includes('--version') || args.includes('-V'))) return baseProgram();
  const module = word === undefined ? undefined : MODULES.find((m) => m.commands.includes(word));
  if (module === undefined) return buildProgram();
  const program = baseProgram();
  for (const register of await module.load()) register(program);
  return program;
}

export function main(argv: string[]): Promise<number> {
  return runProgram(argv, () => programFor(argv));
}
