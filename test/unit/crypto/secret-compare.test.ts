import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { constantTimeEqual } from '../../../src/crypto/index.js';

/** Secrets (token hashes, SigV4 signatures, check values) are compared in constant time only. */

const SRC = resolve(import.meta.dirname, '../../../src');
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

// An equality operator, .equals() or Buffer.compare next to a name that holds a secret.
const SECRET = String.raw`\w*(?:secret|token(?!Id)|signature|tokenHash|passphrase|mac|checkValue)\w*`;
const RISKY = new RegExp(String.raw`(?:\b${SECRET}\b(?:\.toString\([^)]*\))?\s*[!=]==)|(?:[!=]==\s*${SECRET}\b)|(?:\b${SECRET}\.equals\()|(?:Buffer\.compare\([^)]*${SECRET})`, 'i');
const ALLOWED = /=== undefined|!== undefined|=== ''|!== ''|typeof |\.length\s*[!=]==|=== null|!== null|kind === |=== 'bearer'|=== 'sigv4'/;

describe('constant-time comparison of secrets', () => {
  it('constantTimeEqual is right for equal, unequal and different-length inputs', () => {
    const a = Buffer.from('0123456789abcdef');
    expect(constantTimeEqual(a, Buffer.from(a))).toBe(true);
    expect(constantTimeEqual(a, Buffer.from('0123456789abcdeF'))).toBe(false);
    expect(constantTimeEqual(a, a.subarray(0, 15))).toBe(false);
    expect(constantTimeEqual(Buffer.alloc(0), Buffer.alloc(0))).toBe(true);
  });

  it('bearer tokens and SigV4 signatures go through constantTimeEqual', () => {
    expect(readFileSync(join(SRC, 'keyring/principals.ts'), 'utf8')).toMatch(/constantTimeEqual\(sha256\(secret\)/);
    expect(readFileSync(join(SRC, 'authz/sigv4.ts'), 'utf8')).toMatch(/constantTimeEqual\(expected,/);
  });

  it('no source file compares a secret with ===, !==, .equals() or Buffer.compare', () => {
    const offenders: string[] = [];
    for (const file of sources(SRC)) {
      readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
        if (line.trim().startsWith('//') || line.trim().startsWith('*')) return;
        if (RISKY.test(line) && !ALLOWED.test(line)) offenders.push(`${relative(SRC, file)}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });

  it('the scan does catch a plain comparison (positive control)', () => {
    expect(RISKY.test('if (tokenHash === provided) return p;')).toBe(true);
    expect(RISKY.test('return signature.equals(expected);')).toBe(true);
    expect(RISKY.test('if (p.secretAccessKey !== given) throw x;')).toBe(true);
  });
});
