#!/usr/bin/env node
// Runs the built CLI (npm ci builds it in `prepare`).
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  // answered before the command-line parser loads: scripts call this to probe the install
  const { VERSION } = await import('../dist/version.js');
  process.stdout.write(`${VERSION}\n`);
} else {
  const { main } = await import('../dist/cli/main.js');
  const code = await main(process.argv);
  // servers keep the event loop alive; one-shot commands end here
  if (code !== 0) process.exitCode = code;
}
