import { createPrivateKey, webcrypto, type KeyObject } from 'node:crypto';
import { zeroize } from '../crypto/index.js';
import { unwrapMaterial, wrapMaterial, type MaterialRef } from '../keyring/index.js';
import { CA_ALGORITHM, toBuffer } from './names.js';

type WebCryptoKey = webcrypto.CryptoKey;

/** An unwrapped CA private key: a WebCrypto key for X.509 and CRL signing, a KeyObject for OCSP. */
export interface CaKey {
  readonly signing: WebCryptoKey;
  readonly keyObject: KeyObject;
}

/** The wrapping AAD names the CA: a wrapped key moved to another CA or tenant does not open. */
export function caKeyRef(tenantId: string, generation: number, root: boolean): MaterialRef {
  return { tenantId, keyId: root ? 'pki-root' : 'pki-ca', version: generation, purpose: 'CA_PRIVATE_KEY' };
}

/**
 * The tenant master key belongs to its cache and may be wiped after an await: it is fetched right
 * before the synchronous wrap or unwrap that uses it.
 */
export type MasterKeySource = () => Promise<Buffer>;

/** A new CA key pair: the private key comes back wrapped (the plaintext PKCS#8 is wiped). */
export async function generateCaKey(masterKey: MasterKeySource, ref: MaterialRef): Promise<{ keys: webcrypto.CryptoKeyPair; wrapped: string }> {
  const keys = await webcrypto.subtle.generateKey(CA_ALGORITHM, true, ['sign', 'verify']);
  const pkcs8 = toBuffer(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  try {
    const tmk = await masterKey();
    return { keys, wrapped: wrapMaterial(tmk, ref, pkcs8) };
  } finally {
    zeroize(pkcs8);
  }
}

/** Opens a wrapped CA key into non-extractable signing keys; the PKCS#8 bytes are wiped at once. */
export async function openCaKey(masterKey: MasterKeySource, ref: MaterialRef, wrapped: string): Promise<CaKey> {
  const tmk = await masterKey();
  const pkcs8 = unwrapMaterial(tmk, ref, wrapped);
  try {
    const keyObject = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    const signing = await webcrypto.subtle.importKey('pkcs8', pkcs8, CA_ALGORITHM, false, ['sign']);
    return { signing, keyObject };
  } finally {
    zeroize(pkcs8);
  }
}
