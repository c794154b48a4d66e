import { KeywardError } from '../errors/index.js';
import type { BarrierEntry, BarrierWriter } from '../barrier/index.js';

/** JSON codec for keyring records. A record that decrypts but does not parse is an integrity error. */
export function encodeRecord(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

export function decodeRecord<T>(entry: BarrierEntry): T {
  try {
    return JSON.parse(entry.value.toString('utf8')) as T;
  } catch {
    throw new KeywardError('IntegrityException', `stored record ${JSON.stringify(entry.path)} is not valid JSON`);
  }
}

const EMPTY = encodeRecord({});

/** Moves a record's index entries (schedule entries) from what `before` implied to what `after` implies. */
export async function reconcileIndex(tx: BarrierWriter, before: readonly string[], after: readonly string[]): Promise<void> {
  for (const p of before) if (!after.includes(p)) await tx.delete(p);
  for (const p of after) if (!before.includes(p)) await tx.put(p, EMPTY);
}
