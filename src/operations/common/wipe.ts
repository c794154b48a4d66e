/**
 * Zeroes the byte fields of a result (plaintexts and data keys), also inside lists and nested
 * objects such as batch results: once a transport has serialised a result, or when it will not
 * be sent, its secrets leave memory sooner.
 */
export function wipeResult(value: unknown, depth = 0): void {
  if (value instanceof Uint8Array) {
    value.fill(0);
    return;
  }
  if (value === null || typeof value !== 'object' || depth > 4) return;
  for (const v of Array.isArray(value) ? value : Object.values(value)) wipeResult(v, depth + 1);
}
