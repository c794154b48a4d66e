import { KeywardError } from '../errors/index.js';
import type { BarrierEntry } from '../barrier/index.js';

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
