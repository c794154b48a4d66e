import { describe, expect, it } from 'vitest';
import { planCrl } from '../../../src/pki/crl.js';
import type { RevocationRecord } from '../../../src/pki/index.js';

const DAY = 86_400_000;
const period = DAY;
const start = Date.UTC(2026, 0, 10);
const rev = (serialNumber: string, at: number, notAfter = start + 365 * DAY): RevocationRecord => ({
  serialNumber, caGeneration: 1, revokedAt: new Date(at).toISOString(), reason: 'keyCompromise', notAfter: new Date(notAfter).toISOString(),
});

describe('CRL numbering and content (crl.ts)', () => {
  const before = rev('aa', start - 3 * 3_600_000);
  const during = rev('bb', start + 2 * 3_600_000);
  const revocations = [before, during];

  it('a complete CRL lists every live revocation and is numbered from the later of period start and last revocation', () => {
    const now = start + 5 * 3_600_000;
    const full = planCrl(Date.parse(during.revokedAt), now, period, false, revocations);
    expect(full.entries.map((e) => e.serialNumber)).toEqual(['aa', 'bb']);
    expect(full.number).toBe(Date.parse(during.revokedAt) * 2);
    expect(full.baseNumber).toBeUndefined();
    expect(full.nextUpdate.getTime()).toBe(start + 2 * period);
  });

  it('a delta lists only what changed since the period started, based on the complete CRL of that instant', () => {
    const now = start + 5 * 3_600_000;
    const delta = planCrl(Date.parse(during.revokedAt), now, period, true, revocations);
    expect(delta.entries.map((e) => e.serialNumber)).toEqual(['bb']);
    expect(delta.baseNumber).toBe(start * 2);
    expect(delta.number).toBe(Date.parse(during.revokedAt) * 2 + 1);
    // the base is the complete CRL as of the period's start: what one issued then would say
    const base = planCrl(Date.parse(before.revokedAt), start, period, false, [before]);
    expect(base.number).toBe(delta.baseNumber);
    expect(base.entries.map((e) => e.serialNumber)).toEqual(['aa']);
  });

  it('numbers only grow, complete and delta share one sequence, and the same state gives the same number on every node', () => {
    const a = planCrl(start - DAY, start + 1000, period, false, [before]);
    const b = planCrl(start - DAY, start + 9000, period, false, [before]);
    expect(a.number).toBe(b.number);
    const d = planCrl(start - DAY, start + 1000, period, true, [before]);
    expect(d.number).toBe(a.number + 1);
    const next = planCrl(start - DAY, start + period + 1, period, false, [before]);
    expect(next.number).toBeGreaterThan(d.number);
    const afterRevocation = planCrl(start + 7000, start + 9000, period, false, [before, rev('cc', start + 7000)]);
    expect(afterRevocation.number).toBeGreaterThan(a.number);
  });

  it('drops revocations of certificates expired before the period', () => {
    const expired = rev('dd', start - 10 * DAY, start - DAY);
    expect(planCrl(start, start + 1, period, false, [expired, before]).entries.map((e) => e.serialNumber)).toEqual(['aa']);
  });
});
