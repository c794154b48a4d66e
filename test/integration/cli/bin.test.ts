import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../../../src/version.js';
import { keyward } from '../../helpers/process.js';

// bin/keyward.js is CommonJS (bin/package.json) and answers --version itself, before any ES module
// loads: its answer must stay the package's version, the one the CLI's own parser prints.
describe('bin/keyward.js', () => {
  const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../../package.json'), 'utf8')) as { version: string };

  it('--version and -V print the package version, as the parser does with global flags around it', async () => {
    expect(VERSION).toBe(pkg.version);
    for (const flag of ['--version', '-V']) {
      const r = await keyward([flag], {});
      expect(r).toMatchObject({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
    }
    // not the bare form: goes through dist/cli/main.js and commander
    const viaParser = await keyward(['--output', 'text', '--version'], {});
    expect(viaParser).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
  });

  it('starts the file commands through the CommonJS entry and passes their exit codes through', async () => {
    const help = await keyward(['encrypt-file', '--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--threads <n>/);
    const missing = await keyward(['decrypt-file', '--in', '/nonexistent/keyward-input', '--out', '/dev/null'], {});
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/nonexistent\/keyward-input/);
  });
});
