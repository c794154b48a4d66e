// The entry of encrypt-file and decrypt-file, bundled with what they import into one CommonJS
// file (scripts/bundle-file-commands.mjs) that bin/keyward.js loads for those two commands only:
// no ES module loader and no module graph to resolve at start. A 64 MB bound on a command with
// two threads needs the memory (against dist/cli/main.js: peak RSS 51.5 -> 49.3 MiB with one
// thread, 63.4 -> 60.5 with two; 40-50 ms less CPU time per command).
import { registerFile } from './commands/file.js';
import { baseProgram, runProgram } from './program.js';

export function main(argv: string[]): Promise<number> {
  return runProgram(argv, () => {
    const program = baseProgram();
    registerFile(program);
    return program;
  });
}
