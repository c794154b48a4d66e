import { constants, privateDecrypt } from 'node:crypto';
import { aesKeyUnwrapPad, canonicalPrivateKey, KeyFormatError, type OaepHash } from '../../crypto/index.js';
import { invalidCiphertext, KeywardError } from '../../errors/index.js';
import { asymmetricTypeOf, familyOf, KEY_SPEC_INFO, type KeyRecord, type OpenedImportToken } from '../../keyring/index.js';

/** GetParametersForImport and ImportKeyMaterial: origin EXTERNAL keys that are not being deleted. */
export function requireImportable(arn: string, key: KeyRecord): void {
  if (key.origin !== 'EXTERNAL') {
    throw new KeywardError('UnsupportedOperationException', `${arn} has origin ${key.origin}: key material can be imported only into keys created with Origin EXTERNAL.`);
  }
  if (key.keyState === 'PendingDeletion') throw new KeywardError('KMSInvalidStateException', `${arn} is pending deletion.`);
}

/** AWS: imported HMAC material is between the digest length and the hash's block size. */
const HMAC_IMPORT_BYTES = { HMAC_224: [28, 64], HMAC_256: [32, 64], HMAC_384: [48, 128], HMAC_512: [64, 128] } as const;

/**
 * Unwraps EncryptedKeyMaterial with the token's wrapping key. RSAES_OAEP_SHA_*: RSA-OAEP of the
 * material. RSA_AES_KEY_WRAP_SHA_*: RSA-OAEP of an ephemeral AES key (as long as the modulus),
 * followed by the material under AES Key Wrap with Padding (RFC 5649). Any failure is the one
 * InvalidCiphertextException.
 */
export function unwrapImportedMaterial(token: OpenedImportToken, encrypted: Uint8Array): Buffer {
  const hash: OaepHash = token.algorithm.endsWith('SHA_1') ? 'sha1' : 'sha256';
  const rsaBytes = (token.privateKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8;
  const rsa = (c: Uint8Array) => privateDecrypt({ key: token.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, c);
  try {
    if (!token.algorithm.startsWith('RSA_AES_KEY_WRAP')) return rsa(encrypted);
    if (encrypted.length <= rsaBytes) throw invalidCiphertext();
    const aesKey = rsa(encrypted.subarray(0, rsaBytes));
    try {
      return aesKeyUnwrapPad(aesKey, encrypted.subarray(rsaBytes));
    } finally {
      aesKey.fill(0);
    }
  } catch {
    throw invalidCiphertext();
  }
}

/** The material in the form Keyward stores, or IncorrectKeyMaterialException if it does not fit the key. */
export function checkImportedMaterial(key: KeyRecord, material: Buffer): Buffer {
  const wrong = (why: string) => new KeywardError('IncorrectKeyMaterialException', `The key material is not valid for a ${key.keySpec} key: ${why}.`);
  switch (familyOf(key.keySpec)) {
    case 'symmetric':
      if (material.length !== KEY_SPEC_INFO.SYMMETRIC_DEFAULT.parameter) throw wrong(`it must be 32 bytes (256 bits), not ${material.length}`);
      return material;
    case 'hmac': {
      const [min, max] = HMAC_IMPORT_BYTES[key.keySpec as keyof typeof HMAC_IMPORT_BYTES];
      if (material.length < min || material.length > max) throw wrong(`it must be ${min} to ${max} bytes, not ${material.length}`);
      return material;
    }
    default: {
      const type = asymmetricTypeOf(key.keySpec);
      if (type === undefined) throw wrong('unknown key type');
      try {
        return canonicalPrivateKey(type, material);
      } catch (e) {
        if (e instanceof KeyFormatError) throw wrong(e.message);
        throw e;
      } finally {
        material.fill(0);
      }
    }
  }
}
