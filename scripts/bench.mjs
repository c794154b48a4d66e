#!/usr/bin/env node
// `npm run bench [-- --quick | --only NAME | --soak]`: builds the server (dist/ and the file
// commands' bundle, which the bench spawns as bin/keyward.js) and compiles bench/ with tsc (no
// TypeScript runner is installed), then runs the compiled harness with the same arguments.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

function run(args, what) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`bench: ${what} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
}

run([tsc, '-p', 'tsconfig.build.json'], 'building the server (tsc -p tsconfig.build.json)');
// the file commands run from their own bundle (dist/file-commands.cjs), built from dist/
run([join(root, 'scripts', 'bundle-file-commands.mjs')], 'bundling the file commands (scripts/bundle-file-commands.mjs)');
run([tsc, '-p', 'bench/tsconfig.json'], 'compiling the bench (tsc -p bench/tsconfig.json)');
const r = spawnSync(process.execPath, [join(root, 'bench', '.build', 'bench', 'run.js'), ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
