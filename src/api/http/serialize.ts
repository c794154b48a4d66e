/** JSON for AWS protocol responses: Buffers become base64 strings (AWS blob members). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, replacer);
}

function replacer(this: unknown, key: string, value: unknown): unknown {
  // Buffer#toJSON has already run when the replacer sees the value: read the original instead.
  const original = (this as Record<string, unknown>)[key];
  if (original instanceof Uint8Array) return Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64');
  return value;
}
