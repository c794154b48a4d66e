import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The repository root: the nearest directory above this file whose package.json is Keyward's (works compiled or not). */
export function repoRoot(): string {
  let dir = import.meta.dirname;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'keyward') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the Keyward repository above ${import.meta.dirname}`);
    dir = up;
  }
}

/** bin/keyward.js, which runs the built server in dist/ (`npm run bench` builds it first). */
export function keywardBin(): string {
  return join(repoRoot(), 'bin', 'keyward.js');
}
