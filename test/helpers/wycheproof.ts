import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';

/**
 * Wycheproof vectors are read in place from the shared folder beside the project
 * (`../shared/wycheproof/`, or KEYWARD_WYCHEPROOF_DIR); they are never copied into the repository.
 * Without the folder a test skips, except with CI=true, where it fails.
 */
const PROJECT_ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));
export const WYCHEPROOF_DIR = process.env.KEYWARD_WYCHEPROOF_DIR ?? join(PROJECT_ROOT, '..', 'shared', 'wycheproof');

/** Whether the vectors are here; throws under CI=true when they are not. */
export function haveWycheproof(): boolean {
  if (existsSync(WYCHEPROOF_DIR)) return true;
  if (process.env.CI) throw new Error(`Wycheproof vectors are required in CI but ${WYCHEPROOF_DIR} is missing`);
  return false;
}

/** One vector file, parsed. */
export function loadWycheproof<T>(name: string): T {
  return JSON.parse(readFileSync(join(WYCHEPROOF_DIR, name), 'utf8')) as T;
}
