import {
  CreateKeyCommand, GetParametersForImportCommand, ImportKeyMaterialCommand, type AlgorithmSpec, type KeySpec, type KeyUsageType, type KMSClient,
} from '@aws-sdk/client-kms';
import { constants, createCipheriv, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';

/**
 * Key import as an AWS KMS user does it, with node:crypto on the caller's side: RSAES_OAEP_* wraps
 * the material itself; RSA_AES_KEY_WRAP_* wraps a fresh AES key and the material under AES Key
 * Wrap with Padding (RFC 5649) after it.
 */
export function wrapLocally(wrappingKeyDer: Uint8Array, algorithm: AlgorithmSpec, material: Buffer): Buffer {
  const pub = createPublicKey({ key: Buffer.from(wrappingKeyDer), format: 'der', type: 'spki' });
  const hash = algorithm.endsWith('SHA_1') ? 'sha1' : 'sha256';
  const oaep = (data: Buffer) => publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, data);
  if (algorithm.startsWith('RSAES_OAEP')) return oaep(material);
  const aesKey = randomBytes(32);
  const c = createCipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('a65959a6', 'hex'));
  return Buffer.concat([oaep(aesKey), c.update(material), c.final()]);
}

/** A new key of origin EXTERNAL with this material imported (no expiry); its key id. */
export async function importedKey(kms: KMSClient, spec: KeySpec, usage: KeyUsageType, material: Buffer): Promise<string> {
  const keyId = (await kms.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: usage, Origin: 'EXTERNAL' }))).KeyMetadata!.KeyId!;
  const algorithm: AlgorithmSpec = material.length > 190 ? 'RSA_AES_KEY_WRAP_SHA_256' : 'RSAES_OAEP_SHA_256';
  const p = await kms.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: algorithm, WrappingKeySpec: 'RSA_2048' }));
  await kms.send(new ImportKeyMaterialCommand({
    KeyId: keyId, ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapLocally(p.PublicKey!, algorithm, material), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
  }));
  return keyId;
}
