import type { OaepHash } from '../../crypto/index.js';
import { KeywardError, invalidCiphertext } from '../../errors/index.js';
import { openBlob, readBlobHeader, sealBlob, type EncryptionContext } from '../../format/index.js';
import { ENCRYPTION_ALGORITHMS, requireEnabled, type EncryptionAlgorithm, type KeyRecord } from '../../keyring/index.js';
import type { CallerContext } from '../context.js';
import { requireAlgorithm, requireSymmetricEncryption, requireUsage } from './key-usage.js';
import { requireMaterial } from './material.js';
import { authorizeKey } from './key-access.js';
import { keyArnOf, resolveKey } from './resolve-key.js';

export const ENCRYPTION_CONTEXT_RULE = { maxEntries: 64, maxKey: 256, maxValue: 2048 } as const;
export const ALGORITHMS = ENCRYPTION_ALGORITHMS;

const OAEP_HASH: Partial<Record<EncryptionAlgorithm, OaepHash>> = { RSAES_OAEP_SHA_1: 'sha1', RSAES_OAEP_SHA_256: 'sha256' };

/**
 * Encrypts under the key's primary version (symmetric encryption keys: the ciphertext blob). A key
 * with a usage limit (a scope key) counts the encryption first, which rotates it when its primary
 * version has reached the limit.
 */
export async function encryptUnder(ctx: CallerContext, keyRecord: KeyRecord, plaintext: Uint8Array, context: EncryptionContext | undefined): Promise<Buffer> {
  const tenant = ctx.caller.tenant;
  const arn = keyArnOf(ctx, keyRecord);
  requireEnabled(keyRecord, arn);
  requireSymmetricEncryption(arn, keyRecord, 'This operation');
  const key = await ctx.services.keyring.encryptionCounts.take(tenant, keyRecord);
  ctx.audit.keyId = key.keyId;
  ctx.audit.keyVersion = key.primaryVersion;
  const material = requireMaterial(key, await ctx.services.keyring.keys.material(tenant, key.keyId, key.primaryVersion));
  return sealBlob({ tenantId: tenant.id, keyId: key.keyId, version: key.primaryVersion }, material, plaintext, context);
}

/**
 * Checks an Encrypt-like request against the key (enabled, ENCRYPT_DECRYPT, an algorithm of its
 * spec; asymmetric keys take no encryption context) and returns the algorithm to use.
 */
export function checkEncryption(arn: string, key: KeyRecord, algorithm: EncryptionAlgorithm | undefined, context: EncryptionContext | undefined, operation: string): EncryptionAlgorithm {
  requireEnabled(key, arn);
  requireUsage(arn, key, 'ENCRYPT_DECRYPT', operation);
  const alg = algorithm ?? 'SYMMETRIC_DEFAULT';
  requireAlgorithm(arn, key, 'encryption', 'EncryptionAlgorithm', alg);
  if (alg !== 'SYMMETRIC_DEFAULT' && context !== undefined && Object.keys(context).length > 0) {
    throw new KeywardError('ValidationException', 'EncryptionContext is not supported with asymmetric keys: only symmetric encryption keys bind an encryption context.');
  }
  return alg;
}

/** Encrypts with a key already checked by checkEncryption: the blob, or an RSAES-OAEP ciphertext. */
export async function encryptWith(ctx: CallerContext, key: KeyRecord, algorithm: EncryptionAlgorithm, plaintext: Uint8Array, context: EncryptionContext | undefined): Promise<Buffer> {
  const hash = OAEP_HASH[algorithm];
  if (hash === undefined) return encryptUnder(ctx, key, plaintext, context);
  ctx.audit.keyVersion = key.primaryVersion;
  const handle = requireMaterial(key, await ctx.services.keyring.keys.privateKey(ctx.caller.tenant, key, key.primaryVersion));
  const max = handle.public.maxOaepPlaintext(hash);
  if (plaintext.length > max) {
    throw new KeywardError('ValidationException', `Plaintext is ${plaintext.length} bytes: ${algorithm} with a ${key.keySpec} key encrypts at most ${max} bytes.`);
  }
  return handle.public.encryptOaep(hash, plaintext);
}

/**
 * Decrypts what Encrypt made. With a symmetric algorithm the blob names its key (decryptBlob);
 * with an RSAES algorithm the KeyId is required, as in AWS, and any failure of the padding is the
 * same InvalidCiphertextException.
 */
export async function decryptAny(ctx: CallerContext, blob: Buffer, context: EncryptionContext | undefined, keyIdParam: string | undefined, algorithm: EncryptionAlgorithm | undefined, action?: string): Promise<{ key: KeyRecord; plaintext: Buffer; algorithm: EncryptionAlgorithm }> {
  const alg = algorithm ?? 'SYMMETRIC_DEFAULT';
  const access = { context, ...(action !== undefined ? { action } : {}) };
  const named = keyIdParam === undefined ? undefined : await resolveKey(ctx, keyIdParam, access);
  if (alg === 'SYMMETRIC_DEFAULT' && (named === undefined || named.keySpec === 'SYMMETRIC_DEFAULT')) {
    return { ...(await decryptBlob(ctx, blob, context, keyIdParam, action)), algorithm: alg };
  }
  if (named === undefined) throw new KeywardError('ValidationException', `KeyId is required to decrypt with EncryptionAlgorithm ${alg}.`);
  const arn = keyArnOf(ctx, named);
  checkEncryption(arn, named, alg, context, 'Decrypt');
  const hash = OAEP_HASH[alg];
  if (hash === undefined) throw invalidCiphertext();
  ctx.audit.keyVersion = named.primaryVersion;
  const handle = requireMaterial(named, await ctx.services.keyring.keys.privateKey(ctx.caller.tenant, named, named.primaryVersion));
  try {
    return { key: named, plaintext: handle.decryptOaep(hash, blob), algorithm: alg };
  } catch {
    throw invalidCiphertext();
  }
}

/**
 * Decrypts a blob of the caller's tenant. Everything about the blob itself (malformed, another
 * tenant's, unknown key or version, disabled or destroyed version, wrong context, bad tag) is the
 * one InvalidCiphertextException. The key's own state answers as AWS does (DisabledException,
 * KMSInvalidStateException); a KeyId that names another key is IncorrectKeyException.
 */
export async function decryptBlob(ctx: CallerContext, blob: Buffer, context: EncryptionContext | undefined, keyIdParam: string | undefined, action?: string): Promise<{ key: KeyRecord; plaintext: Buffer }> {
  const tenant = ctx.caller.tenant;
  const keys = ctx.services.keyring.keys;
  const header = readBlobHeader(blob);
  if (header.tenantId !== tenant.id) throw invalidCiphertext();
  ctx.audit.keyId = header.keyId;
  ctx.audit.keyVersion = header.version;
  if (keyIdParam !== undefined) {
    const named = await resolveKey(ctx, keyIdParam, false);
    ctx.audit.keyId = header.keyId;
    if (named.keyId !== header.keyId) {
      throw new KeywardError('IncorrectKeyException', 'The key ID in the request does not identify a CMK that can perform this operation.');
    }
  }
  const key = await keys.find(tenant, header.keyId);
  if (key === undefined || key.keySpec !== 'SYMMETRIC_DEFAULT') throw invalidCiphertext();
  await authorizeKey(ctx, key, { context, ...(action !== undefined ? { action } : {}) });
  requireEnabled(key, keyArnOf(ctx, key));
  const version = key.versions.find((v) => v.version === header.version);
  if (version === undefined || version.state !== 'Enabled') throw invalidCiphertext();
  const material = await keys.material(tenant, key.keyId, header.version);
  if (material === undefined) throw invalidCiphertext();
  return { key, plaintext: openBlob(header, blob, material, context) };
}
