import { createCipheriv, createDecipheriv } from 'node:crypto';

/** AES Key Wrap with Padding (RFC 5649) as OpenSSL implements it: AWS KMS's RSA_AES_KEY_WRAP import. */
const KWP_IV = Buffer.from('a65959a6', 'hex');

function cipherName(kek: Uint8Array): string {
  if (kek.length !== 16 && kek.length !== 24 && kek.length !== 32) throw new RangeError('an AES key wrap key is 128, 192 or 256 bits');
  return `id-aes${kek.length * 8}-wrap-pad`;
}

export function aesKeyWrapPad(kek: Uint8Array, data: Uint8Array): Buffer {
  const c = createCipheriv(cipherName(kek), kek, KWP_IV);
  return Buffer.concat([c.update(data), c.final()]);
}

/** Throws on a wrong key or a modified wrapping (the integrity check of RFC 5649). */
export function aesKeyUnwrapPad(kek: Uint8Array, wrapped: Uint8Array): Buffer {
  const d = createDecipheriv(cipherName(kek), kek, KWP_IV);
  return Buffer.concat([d.update(wrapped), d.final()]);
}
