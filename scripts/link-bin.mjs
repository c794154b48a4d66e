#!/usr/bin/env node
// After `npm ci` in a clone: link the package's own command into node_modules/.bin, so that
// `npx keyward` runs this checkout at once (npm does not link a project's own bin; without the
// link, npx would pack and build a copy of the project first).
import { existsSync, lstatSync, mkdirSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const bin = join(root, 'node_modules', '.bin');
const link = join(bin, 'keyward');
// only in a clone with its own node_modules (not when installed as a dependency, not a shared one)
if (existsSync(join(root, 'node_modules')) && !lstatSync(join(root, 'node_modules')).isSymbolicLink()) {
  mkdirSync(bin, { recursive: true });
  if (!existsSync(link)) symlinkSync(join('..', '..', 'bin', 'keyward.js'), link);
}
