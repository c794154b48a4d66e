import { aesGcmOpen, aesGcmSeal, GCM_NONCE_BYTES, GCM_TAG_BYTES } from '../crypto/aead.js';
import { hkdfSha256 } from '../crypto/hkdf.js';
import { randomNonce } from '../crypto/random.js';
import { zeroize } from '../crypto/zeroize.js';

/**
 * A barrier-encrypted record as it lies in the store (docs/formats.md, "Stored record").
 *
 *   version(1)=0x01 | term(4, u32 BE) | salt(16) | nonce(12) | ciphertext | tag(16)
 *
 * The record key is HKDF-SHA256(term key, salt), fresh per write; the AAD is the header followed
 * by the record's path, so a record moved to another path, or edited, fails to open.
 */
export const RECORD_VERSION = 0x01;
const SALT_BYTES = 16;
const HEADER_BYTES = 1 + 4 + SALT_BYTES + GCM_NONCE_BYTES;
const RECORD_KEY_INFO = Buffer.from('keyward/barrier/v1 record key');

/** A stored value that does not open: edited, moved, swapped or written under an unknown term. */
export class RecordIntegrityError extends Error {
  constructor(readonly path: string, reason: string) {
    super(`stored record ${JSON.stringify(path)} failed its integrity check (${reason})`);
    this.name = 'RecordIntegrityError';
  }
}

export function readRecordTerm(path: string, record: Uint8Array): number {
  if (record.length < HEADER_BYTES + GCM_TAG_BYTES || record[0] !== RECORD_VERSION) {
    throw new RecordIntegrityError(path, 'malformed header');
  }
  return Buffer.from(record.buffer, record.byteOffset, record.byteLength).readUInt32BE(1);
}

export function sealRecord(path: string, term: number, termKey: Uint8Array, plaintext: Uint8Array): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header[0] = RECORD_VERSION;
  header.writeUInt32BE(term, 1);
  const salt = randomNonce(SALT_BYTES);
  const nonce = randomNonce(GCM_NONCE_BYTES);
  salt.copy(header, 5);
  nonce.copy(header, 5 + SALT_BYTES);
  const key = hkdfSha256(termKey, salt, RECORD_KEY_INFO);
  try {
    return Buffer.concat([header, aesGcmSeal(key, nonce, plaintext, Buffer.concat([header, Buffer.from(path, 'utf8')]))]);
  } finally {
    zeroize(key);
  }
}

export function openRecord(path: string, termKey: Uint8Array, record: Uint8Array): Buffer {
  readRecordTerm(path, record);
  const buf = Buffer.from(record.buffer, record.byteOffset, record.byteLength);
  const header = buf.subarray(0, HEADER_BYTES);
  const key = hkdfSha256(termKey, header.subarray(5, 5 + SALT_BYTES), RECORD_KEY_INFO);
  try {
    return aesGcmOpen(key, header.subarray(5 + SALT_BYTES), buf.subarray(HEADER_BYTES), Buffer.concat([header, Buffer.from(path, 'utf8')]));
  } catch {
    throw new RecordIntegrityError(path, 'authentication failed');
  } finally {
    zeroize(key);
  }
}
