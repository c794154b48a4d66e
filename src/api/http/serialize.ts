/** JSON for AWS protocol responses: Buffers become base64 strings (AWS blob members). */
export function toJson(value: unknown): string {
  // a copy with blobs already in base64, then a plain stringify: a replacer function would run for every member
  return JSON.stringify(toWire(value));
}

function toWire(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (Array.isArray(value)) return value.map(toWire);
  if (value === null || typeof value !== 'object' || typeof (value as { toJSON?: unknown }).toJSON === 'function') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = toWire(v);
  return out;
}
