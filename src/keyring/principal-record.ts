import { randomFillSync } from 'node:crypto';
import { secretBuffer } from '../crypto/index.js';
import { KeywardError } from '../errors/index.js';
import { jsonWithSecrets, parseJsonWithSecrets } from '../format/json-secrets.js';
import type { BarrierEntry } from '../barrier/index.js';
import type { PrincipalRecord } from './types.js';

const BASE64 = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/');
const SECRET_MEMBER = 'secretAccessKey';
const SECRET_MEMBERS = new Set([SECRET_MEMBER]);

/**
 * A new SigV4 secret: 40 characters of the base64 alphabet, each 6 random bits (the same 240-bit
 * secret as the base64 text of 30 random bytes, which earlier releases made), built as bytes.
 */
export function newSecret(): Buffer {
  const random = randomFillSync(secretBuffer(40));
  const secret = secretBuffer(40);
  for (let i = 0; i < 40; i++) secret[i] = BASE64[random[i]! & 63]!;
  random.fill(0);
  return secret;
}

/**
 * Reads a principal record with its secret as bytes (never a string: see PrincipalRecord) and
 * zeroes the decrypted record. Reads the records every release wrote (the same JSON).
 */
export function decodePrincipal(entry: BarrierEntry): PrincipalRecord {
  try {
    const record = parseJsonWithSecrets(entry.value, SECRET_MEMBERS);
    if (!Buffer.isBuffer(record[SECRET_MEMBER])) throw new Error('no secret');
    return record as unknown as PrincipalRecord;
  } catch {
    throw new KeywardError('IntegrityException', `stored record ${JSON.stringify(entry.path)} is not a principal record`);
  } finally {
    entry.value.fill(0);
  }
}

/** The stored form: JSON, with the secret spliced in as bytes. The caller zeroes it after the write. */
export function encodePrincipal(p: PrincipalRecord): Buffer {
  const { secretAccessKey, ...rest } = p;
  return jsonWithSecrets(rest, { [SECRET_MEMBER]: secretAccessKey });
}

/** Zeroes a principal's secret once nothing uses it (it left the cache, or the node sealed). */
export function wipePrincipal(p: PrincipalRecord): void {
  p.secretAccessKey.fill(0);
}
