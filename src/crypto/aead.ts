import { createCipheriv, createDecipheriv } from 'node:crypto';

/** AES-256-GCM with a 96-bit nonce and a 128-bit tag: the only AEAD Keyward uses. */
export const AES_KEY_BYTES = 32;
export const GCM_NONCE_BYTES = 12;
export const GCM_TAG_BYTES = 16;

/** Thrown when an AEAD open fails for any reason. Deliberately carries no detail (no oracle). */
export class AuthenticationFailure extends Error {
  constructor() {
    super('authentication failed');
    this.name = 'AuthenticationFailure';
  }
}

/** Encrypts and returns ciphertext || tag. */
export function aesGcmSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Buffer {
  checkKeyAndNonce(key, nonce);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_BYTES });
  if (aad !== undefined && aad.length > 0) cipher.setAAD(aad);
  const head = cipher.update(plaintext);
  const tail = cipher.final();
  return Buffer.concat([head, tail, cipher.getAuthTag()]);
}

/**
 * Encrypts into `out` at `offset`: ciphertext (as long as the plaintext) then the tag, so a
 * caller that frames the result (a header before it) allocates and copies the message once.
 */
export function aesGcmSealInto(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array | undefined, out: Buffer, offset: number): void {
  checkKeyAndNonce(key, nonce);
  if (out.length - offset !== plaintext.length + GCM_TAG_BYTES) throw new RangeError('AES-GCM output space must be the plaintext length plus the tag');
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_BYTES });
  if (aad !== undefined && aad.length > 0) cipher.setAAD(aad);
  let at = offset + cipher.update(plaintext).copy(out, offset);
  at += cipher.final().copy(out, at);
  cipher.getAuthTag().copy(out, at);
}

/** Opens ciphertext || tag; throws AuthenticationFailure on any mismatch. */
export function aesGcmOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Buffer {
  checkKeyAndNonce(key, nonce);
  if (sealed.length < GCM_TAG_BYTES) throw new AuthenticationFailure();
  const body = sealed.subarray(0, sealed.length - GCM_TAG_BYTES);
  const tag = sealed.subarray(sealed.length - GCM_TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_BYTES });
    decipher.setAuthTag(tag);
    if (aad !== undefined && aad.length > 0) decipher.setAAD(aad);
    const head = decipher.update(body);
    scrubFreedOutput(body.length);
    const tail = decipher.final();
    return tail.length === 0 ? head : Buffer.concat([head, tail]);
  } catch {
    throw new AuthenticationFailure();
  }
}

/**
 * Node's decipher.update writes the plaintext into a buffer one block (here one byte) longer than
 * it, copies it into one of the exact size and frees the first without wiping it: a freed copy of
 * every record's plaintext (a SigV4 secret, key material) would stay in memory after a seal.
 * Taking a buffer of that size at once gets the freed block back from the allocator (it reuses the
 * last block freed of a size first) and zeroes it. Best effort, measured: with it a /proc scan finds
 * no copy of a decrypted secret; without it one remains.
 */
function scrubFreedOutput(length: number): void {
  Buffer.allocUnsafeSlow(length + 1).fill(0);
}

function checkKeyAndNonce(key: Uint8Array, nonce: Uint8Array): void {
  if (key.length !== AES_KEY_BYTES) throw new RangeError(`AES-256-GCM key must be ${AES_KEY_BYTES} bytes`);
  if (nonce.length !== GCM_NONCE_BYTES) throw new RangeError(`AES-GCM nonce must be ${GCM_NONCE_BYTES} bytes`);
}
