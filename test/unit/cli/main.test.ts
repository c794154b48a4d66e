import { describe, expect, it } from 'vitest';
import { buildProgram, COMMAND_NAMES, programFor } from '../../../src/cli/main.js';

// main.ts loads a command's module only when that command runs: its table of names must list
// every command the modules register, or such a command would be "unknown" when named first.
describe('CLI command table', () => {
  it('names exactly the commands the modules register', async () => {
    const registered = (await buildProgram()).commands.map((c) => c.name());
    expect([...registered].sort()).toEqual([...COMMAND_NAMES].sort());
  });

  it('a named command loads only its own module; help and unknown words load all; a bare --version none', async () => {
    const names = (argv: string[]) => programFor(['node', 'keyward', ...argv]).then((p) => p.commands.map((c) => c.name()));
    expect(await names(['encrypt-file', '--in', 'x'])).toEqual(['encrypt-file', 'decrypt-file']);
    expect(await names(['key', 'list'])).toEqual(['key', 'alias', 'principal', 'tenant']);
    expect((await names(['--help'])).length).toBe(COMMAND_NAMES.length);
    expect((await names(['help', 'encrypt-file'])).length).toBe(COMMAND_NAMES.length);
    expect((await names(['no-such-command'])).length).toBe(COMMAND_NAMES.length);
    expect(await names(['--version'])).toEqual([]);
  });
});
