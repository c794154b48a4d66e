#!/usr/bin/env node
// Runs the built CLI (npm ci builds it in `prepare`). This file is CommonJS (bin/package.json):
// node starts a CommonJS entry without its ES module loader, which `--version` does not need
// (measured on 2 loaded cores: 460 ms against 560 ms for an empty ES module, `node -e 0` 540 ms).
const args = process.argv.slice(2);
const FILE_COMMANDS = new Set(['encrypt-file', 'decrypt-file']);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  // answered before the command-line parser loads: scripts call this to probe the install
  // (the same reading as dist/version.js: package.json next to bin/)
  const { readFileSync } = process.getBuiltinModule('node:fs');
  let version = '0.0.0';
  try {
    version = JSON.parse(readFileSync(`${__dirname}/../package.json`, 'utf8')).version ?? '0.0.0';
  } catch {
    // as dist/version.js: an unreadable package.json is version 0.0.0
  }
  process.stdout.write(`${version}\n`);
} else {
  const fileCommand = FILE_COMMANDS.has(args.find((a) => !a.startsWith('-')));
  if (fileCommand && process.stderr.isTTY && !args.includes('--no-progress')) {
    // A progress bar leaves the file to a worker thread, and TurboFan in two isolates costs peak
    // RSS (1 GiB: 64.3 MiB with --no-opt set once the modules have loaded, 60.8 MiB set here).
    // Set here, it also costs node's code cache (~20 ms of start), which only a terminal pays.
    // Elsewhere src/cli/commands/file.ts sets it when more than one thread runs (withoutTurboFan).
    process.getBuiltinModule('node:v8').setFlagsFromString('--no-opt');
  }
  const run = async ({ main }) => {
    const code = await main(process.argv);
    // servers keep the event loop alive; one-shot commands end here
    if (code !== 0) process.exitCode = code;
  };
  if (fileCommand) {
    // their CommonJS bundle (scripts/bundle-file-commands.mjs): no ES module loader, one file to
    // load (with two threads: 63.4 -> 60.5 MiB peak RSS, under a 64 MB bound)
    void run(require('../dist/file-commands.cjs'));
  } else {
    void import('../dist/cli/main.js').then(run);
  }
}
