import { constants, createHash, privateDecrypt, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { constantTimeEqual } from './compare.js';

/**
 * RSASSA-PSS over a digest the caller already computed (AWS's MessageType DIGEST). node:crypto
 * signs and verifies only whole messages, so the EMSA-PSS encoding of RFC 8017 section 9.1 is
 * done here (MGF1 with the message hash, salt as long as the hash, as AWS KMS uses) and the RSA
 * operation itself stays in OpenSSL (raw private/public operation, RSA_NO_PADDING).
 */

function mgf1(hash: string, seed: Buffer, length: number): Buffer {
  const out: Buffer[] = [];
  let total = 0;
  for (let counter = 0; total < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    const block = createHash(hash).update(seed).update(c).digest();
    out.push(block);
    total += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

function mPrime(hash: string, digest: Uint8Array, salt: Uint8Array): Buffer {
  return createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
}

/** EMSA-PSS-ENCODE (RFC 8017 9.1.1) with sLen = hLen, for a modulus of modBits bits. */
function encode(hash: string, digest: Uint8Array, modBits: number): Buffer {
  const hLen = digest.length;
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  if (emLen < 2 * hLen + 2) throw new RangeError('modulus too short for this hash');
  const salt = randomBytes(hLen);
  const h = mPrime(hash, digest, salt);
  const db = Buffer.alloc(emLen - hLen - 1);
  db[emLen - 2 * hLen - 2] = 0x01;
  Buffer.from(salt).copy(db, emLen - 2 * hLen - 1);
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= 0xff >>> (8 * emLen - emBits);
  return Buffer.concat([db, h, Buffer.from([0xbc])]);
}

/** EMSA-PSS-VERIFY (RFC 8017 9.1.2) with sLen = hLen. */
function check(hash: string, digest: Uint8Array, em: Buffer, modBits: number): boolean {
  const hLen = digest.length;
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  if (em.length !== emLen || emLen < 2 * hLen + 2 || em[emLen - 1] !== 0xbc) return false;
  const db = Buffer.from(em.subarray(0, emLen - hLen - 1));
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  const topMask = 0xff << (8 - (8 * emLen - emBits)) & 0xff;
  if ((db[0]! & topMask) !== 0) return false;
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= 0xff >>> (8 * emLen - emBits);
  const padEnd = emLen - 2 * hLen - 2;
  for (let i = 0; i < padEnd; i++) if (db[i] !== 0) return false;
  if (db[padEnd] !== 0x01) return false;
  const salt = db.subarray(db.length - hLen);
  return constantTimeEqual(mPrime(hash, digest, salt), h);
}

export function pssSignDigest(key: KeyObject, modBits: number, hash: string, digest: Uint8Array): Buffer {
  const em = encode(hash, digest, modBits);
  const k = Math.ceil(modBits / 8);
  const padded = em.length < k ? Buffer.concat([Buffer.alloc(k - em.length), em]) : em;
  return privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, padded);
}

export function pssVerifyDigest(key: KeyObject, modBits: number, hash: string, digest: Uint8Array, signature: Uint8Array): boolean {
  const k = Math.ceil(modBits / 8);
  if (signature.length !== k) return false;
  let m: Buffer;
  try {
    m = publicEncrypt({ key, padding: constants.RSA_NO_PADDING }, signature);
  } catch {
    return false; // the signature as an integer is not below the modulus
  }
  const emLen = Math.ceil((modBits - 1) / 8);
  if (m.length > emLen && m.subarray(0, m.length - emLen).some((b) => b !== 0)) return false;
  return check(hash, digest, m.subarray(m.length - emLen), modBits);
}
