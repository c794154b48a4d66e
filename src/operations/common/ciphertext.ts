import { KeywardError, invalidCiphertext } from '../../errors/index.js';
import { openBlob, readBlobHeader, sealBlob, type EncryptionContext } from '../../format/index.js';
import { requireEnabled, type KeyRecord } from '../../keyring/index.js';
import type { CallerContext } from '../context.js';
import { keyArnOf, resolveKey } from './resolve-key.js';

export const ENCRYPTION_CONTEXT_RULE = { maxEntries: 64, maxKey: 256, maxValue: 2048 } as const;
export const ALGORITHMS = ['SYMMETRIC_DEFAULT'] as const;

/**
 * Encrypts under the key's primary version. A key with a usage limit (a scope key) counts the
 * encryption first, which rotates it when its primary version has reached the limit.
 */
export async function encryptUnder(ctx: CallerContext, keyRecord: KeyRecord, plaintext: Uint8Array, context: EncryptionContext | undefined): Promise<Buffer> {
  const tenant = ctx.caller.tenant;
  requireEnabled(keyRecord, keyArnOf(ctx, keyRecord));
  const key = await ctx.services.keyring.usage.take(tenant, keyRecord);
  ctx.audit.keyId = key.keyId;
  ctx.audit.keyVersion = key.primaryVersion;
  const material = await ctx.services.keyring.keys.material(tenant, key.keyId, key.primaryVersion);
  if (material === undefined) {
    throw new KeywardError('IntegrityException', `The primary version of key ${key.keyId} has no material in the store.`);
  }
  return sealBlob({ tenantId: tenant.id, keyId: key.keyId, version: key.primaryVersion }, material, plaintext, context);
}

/**
 * Decrypts a blob of the caller's tenant. Everything about the blob itself (malformed, another
 * tenant's, unknown key or version, disabled or destroyed version, wrong context, bad tag) is the
 * one InvalidCiphertextException. The key's own state answers as AWS does (DisabledException,
 * KMSInvalidStateException); a KeyId that names another key is IncorrectKeyException.
 */
export async function decryptBlob(ctx: CallerContext, blob: Buffer, context: EncryptionContext | undefined, keyIdParam: string | undefined): Promise<{ key: KeyRecord; plaintext: Buffer }> {
  const tenant = ctx.caller.tenant;
  const keys = ctx.services.keyring.keys;
  const header = readBlobHeader(blob);
  if (header.tenantId !== tenant.id) throw invalidCiphertext();
  ctx.audit.keyId = header.keyId;
  ctx.audit.keyVersion = header.version;
  if (keyIdParam !== undefined) {
    const named = await resolveKey(ctx, keyIdParam);
    ctx.audit.keyId = header.keyId;
    if (named.keyId !== header.keyId) {
      throw new KeywardError('IncorrectKeyException', 'The key ID in the request does not identify a CMK that can perform this operation.');
    }
  }
  const key = await keys.find(tenant, header.keyId);
  if (key === undefined) throw invalidCiphertext();
  requireEnabled(key, keyArnOf(ctx, key));
  const version = key.versions.find((v) => v.version === header.version);
  if (version === undefined || version.state !== 'Enabled') throw invalidCiphertext();
  const material = await keys.material(tenant, key.keyId, header.version);
  if (material === undefined) throw invalidCiphertext();
  return { key, plaintext: openBlob(header, blob, material, context) };
}
