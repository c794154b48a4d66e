#!/usr/bin/env node
// Runs the built CLI (npm ci builds it in `prepare`).
import { main } from '../dist/cli/main.js';

main(process.argv).then((code) => {
  // servers keep the event loop alive; one-shot commands end here
  if (code !== 0) process.exitCode = code;
});
