import { timingSafeEqual } from 'node:crypto';

/** Constant-time equality for secrets; unequal lengths compare false without early exit on content. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) {
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}
