/** Best-effort wipe of key material held in a buffer (the GC may have copied it earlier). */
export function zeroize(...buffers: Array<Uint8Array | undefined>): void {
  for (const b of buffers) b?.fill(0);
}
