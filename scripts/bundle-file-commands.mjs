#!/usr/bin/env node
// Bundles encrypt-file/decrypt-file (dist/cli/file-main.js and what it imports) and the file
// worker into two CommonJS files in dist/, which bin/keyward.js loads for those two commands:
// CommonJS starts without node's ES module loader, and one file without a module graph to
// resolve (docs/performance.md, issue 18). Both sit directly in dist/, at the depth of
// dist/version.js, so their import.meta.url-relative paths (package.json) still hold.
import { build } from 'rolldown';

// loaded lazily and only for a terminal's progress bar or gRPC: left to node_modules
const external = ['cli-progress', /^@grpc\//];

for (const [input, file] of [['dist/cli/file-main.js', 'dist/file-commands.cjs'], ['dist/client/file-worker.js', 'dist/file-worker.cjs']]) {
  await build({
    input,
    platform: 'node',
    external,
    logLevel: 'warn',
    // minified: the source is held in memory by each thread (two threads, 1 GiB: ~170 KiB less
    // peak RSS at the same CPU time); error names are set as strings, the source map maps back
    output: { file, format: 'cjs', sourcemap: true, minify: true },
  });
}
