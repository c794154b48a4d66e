import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { reclaimer } from '../../../src/client/segment-share.js';

describe('reclaimer', () => {
  it('frees cipher output that owns its whole buffer, and leaves views of shared or larger buffers alone', () => {
    const reclaim = reclaimer();
    const cipher = createCipheriv('aes-256-gcm', randomBytes(32), randomBytes(12));
    const output = cipher.update(randomBytes(4096));
    cipher.final();
    const pooled = Buffer.from('a small buffer from the shared pool');
    const larger = Buffer.alloc(64).subarray(0, 32);
    const whole = Buffer.alloc(32, 7);
    reclaim([output, pooled, larger, whole], output.length);
    // released: detached, length 0 (Node 20 needs a V8 flag for transfer, set at run time)
    expect(output.buffer.byteLength).toBe(0);
    expect(output.length).toBe(0);
    expect(whole.buffer.byteLength).toBe(0);
    // never a view of memory that other buffers share
    expect(pooled.toString()).toBe('a small buffer from the shared pool');
    expect(larger.length).toBe(32);
    expect(larger.buffer.byteLength).toBe(64);
  });
});
