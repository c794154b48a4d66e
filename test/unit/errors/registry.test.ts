import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, KeywardError } from '../../../src/errors/index.js';
import { renderErrorsDoc } from './render.js';

describe('the error registry', () => {
  it('docs/errors.md is in step with the registry', () => {
    const file = new URL('../../../docs/errors.md', import.meta.url);
    if (process.env.KEYWARD_WRITE_DOCS === '1') writeFileSync(file, renderErrorsDoc());
    const doc = readFileSync(file, 'utf8');
    expect(doc, 'run `npm run docs:errors` after changing src/errors/codes.ts').toBe(renderErrorsDoc());
  });

  it('every code has an HTTP status matching its fault and a gRPC status', () => {
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      if (spec.fault === 'client') expect(spec.http, code).toBeLessThan(500);
      else expect(spec.http, code).toBeGreaterThanOrEqual(500);
      expect(spec.grpc, code).toMatch(/^[A-Z_]+$/);
      expect(spec.meaning.length, code).toBeGreaterThan(10);
    }
  });

  it('KeywardError carries its code and its spec', () => {
    const e = new KeywardError('NotFoundException', 'gone');
    expect(e.code).toBe('NotFoundException');
    expect(e.name).toBe('NotFoundException');
    expect(e.spec.http).toBe(400);
  });
});
