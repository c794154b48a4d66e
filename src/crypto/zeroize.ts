/** Best-effort wipe of key material held in a buffer (the GC may have copied it earlier). */
export function zeroize(...buffers: Array<Uint8Array | undefined>): void {
  for (const b of buffers) b?.fill(0);
}

/**
 * A zero-filled buffer for a secret, outside the JavaScript heap: V8 keeps typed arrays of up to
 * 64 bytes in its heap, where a garbage collection moves them and leaves the old copy behind;
 * an explicit ArrayBuffer's memory stays where it is, so zeroing it wipes the only copy.
 */
export function secretBuffer(size: number): Buffer {
  return Buffer.from(new ArrayBuffer(size));
}
