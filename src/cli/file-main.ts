// The entry of encrypt-file and decrypt-file, bundled with what they import into one CommonJS
// file (scripts/bundle-file-commands.mjs) that bin/keyward.js loads for those two commands only:
// no ES module loader and no module graph to resolve at start. A 64 MB bound on a command with
// two threads needs the memory (bundle: -1.9 MiB peak RSS and ~25 ms less CPU per command).
import { registerFile } from './commands/file.js';
import { baseProgram, runProgram } from './program.js';

export function main(argv: string[]): Promise<number> {
  return runProgram(argv, () => {
    const program = baseProgram();
    registerFile(program);
    return program;
  });
}
