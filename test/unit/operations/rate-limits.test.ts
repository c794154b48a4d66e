import { describe, expect, it } from 'vitest';
import { RateLimits } from '../../../src/operations/common/rate-limits.js';

const once = { tokens: 1, intervalMs: 3_600_000, burst: 1 };

describe('RateLimits', () => {
  it('throttles a principal past its burst, and tracks at most maxTracked callers (a dropped bucket comes back full)', () => {
    const limits = new RateLimits({ principal: once, expensive: once, maxTracked: 2 });
    limits.takePrincipal('a');
    expect(() => limits.takePrincipal('a')).toThrow(/Rate exceeded/);
    limits.takePrincipal('b');
    limits.takePrincipal('c'); // a is the least recently used of three: dropped
    limits.takePrincipal('a');
    expect(() => limits.takePrincipal('c')).toThrow(/Rate exceeded/);
  });

  it('does not preallocate storage for the tracking bound', () => {
    const before = process.memoryUsage().arrayBuffers;
    const limits = new RateLimits({ principal: once, expensive: once, maxTracked: 1_000_000 });
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1024 * 1024);
    limits.takeExpensive('127.0.0.1', 'Unseal');
    expect(() => limits.takeExpensive('127.0.0.1', 'Unseal')).toThrow(/too many Unseal/);
  });
});
