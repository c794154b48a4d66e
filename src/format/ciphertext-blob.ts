import { aesGcmOpen, aesGcmSealInto, AuthenticationFailure, GCM_NONCE_BYTES, GCM_TAG_BYTES } from '../crypto/aead.js';
import { hkdfSha256 } from '../crypto/hkdf.js';
import { fillNonce } from '../crypto/random.js';
import { zeroize } from '../crypto/zeroize.js';
import { invalidCiphertext } from '../errors/index.js';
import { canonicalContext, type EncryptionContext } from './encryption-context.js';

/**
 * The ciphertext blob returned by Encrypt and GenerateDataKey (docs/formats.md, "Ciphertext blob").
 *
 *   version(1)=0x01 | algorithm(1)=0x01 | key id(16, UUID) | key version(4, u32 BE)
 *   | tenant length(1) | tenant id | salt(16) | nonce(12) | ciphertext | tag(16)
 *
 * Algorithm 0x01 derives a fresh AES-256 key per message, HKDF-SHA256(version key, salt), so the
 * AES-GCM random-nonce limit of 2^32 messages per key is never approached (as AWS KMS does).
 * The whole header and the canonical encryption context are the AAD.
 */
export const BLOB_VERSION = 0x01;
export const ALG_AES256_GCM_HKDF = 0x01;
const SALT_BYTES = 16;
const MESSAGE_KEY_INFO = Buffer.from('keyward/blob/v1 message key');
const TENANT_MAX = 63;

export interface BlobKeyRef {
  readonly tenantId: string;
  readonly keyId: string;
  readonly version: number;
}

export interface BlobHeader extends BlobKeyRef {
  readonly headerLength: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function uuidToBytes(id: string): Buffer {
  if (!UUID.test(id)) throw new RangeError('key id must be a lowercase UUID');
  const out = Buffer.allocUnsafe(16);
  // the five groups, without building the joined hex string first
  out.write(id.slice(0, 8), 0, 'hex');
  out.write(id.slice(9, 13), 4, 'hex');
  out.write(id.slice(14, 18), 6, 'hex');
  out.write(id.slice(19, 23), 8, 'hex');
  out.write(id.slice(24), 10, 'hex');
  return out;
}

export function bytesToUuid(b: Uint8Array): string {
  const h = Buffer.from(b).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The header up to the salt (version, algorithm, key id, key version, tenant). */
function encodeKeyRef(ref: BlobKeyRef): Buffer {
  const tenant = Buffer.from(ref.tenantId, 'ascii');
  if (tenant.length < 1 || tenant.length > TENANT_MAX) throw new RangeError('tenant id length out of range');
  const prefix = Buffer.alloc(23 + tenant.length);
  prefix[0] = BLOB_VERSION;
  prefix[1] = ALG_AES256_GCM_HKDF;
  uuidToBytes(ref.keyId).copy(prefix, 2);
  prefix.writeUInt32BE(ref.version, 18);
  prefix[22] = tenant.length;
  tenant.copy(prefix, 23);
  return prefix;
}

/** The last key reference encoded: a batch, and most traffic, seals under one key version at a time. */
let lastRef: { tenantId: string; keyId: string; version: number; prefix: Buffer } | undefined;

function keyRefPrefix(ref: BlobKeyRef): Buffer {
  const last = lastRef;
  if (last !== undefined && last.keyId === ref.keyId && last.version === ref.version && last.tenantId === ref.tenantId) return last.prefix;
  const prefix = encodeKeyRef(ref);
  lastRef = { tenantId: ref.tenantId, keyId: ref.keyId, version: ref.version, prefix };
  return prefix;
}

/** Reads the header without decrypting; any malformation is the one InvalidCiphertextException. */
export function readBlobHeader(blob: Uint8Array): BlobHeader {
  if (blob.length < 23 || blob[0] !== BLOB_VERSION || blob[1] !== ALG_AES256_GCM_HKDF) throw invalidCiphertext();
  const tenantLength = blob[22] ?? 0;
  const headerLength = 23 + tenantLength + SALT_BYTES + GCM_NONCE_BYTES;
  if (tenantLength < 1 || tenantLength > TENANT_MAX || blob.length < headerLength + GCM_TAG_BYTES) throw invalidCiphertext();
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const tenantId = buf.toString('latin1', 23, 23 + tenantLength);
  if (!/^[a-z0-9][a-z0-9-]*$/.test(tenantId)) throw invalidCiphertext();
  return {
    keyId: bytesToUuid(buf.subarray(2, 18)),
    version: buf.readUInt32BE(18),
    tenantId,
    headerLength,
  };
}

export function sealBlob(ref: BlobKeyRef, versionKey: Uint8Array, plaintext: Uint8Array, context?: EncryptionContext): Buffer {
  // The blob is allocated once and the header, salt, nonce, ciphertext and tag written into it.
  const prefix = keyRefPrefix(ref);
  const saltAt = prefix.length;
  const headerLength = saltAt + SALT_BYTES + GCM_NONCE_BYTES;
  const blob = Buffer.allocUnsafe(headerLength + plaintext.length + GCM_TAG_BYTES);
  prefix.copy(blob, 0);
  fillNonce(blob, saltAt, SALT_BYTES + GCM_NONCE_BYTES);
  const header = blob.subarray(0, headerLength);
  const messageKey = hkdfSha256(versionKey, blob.subarray(saltAt, saltAt + SALT_BYTES), MESSAGE_KEY_INFO);
  try {
    aesGcmSealInto(messageKey, blob.subarray(saltAt + SALT_BYTES, headerLength), plaintext, aad(header, context), blob, headerLength);
    return blob;
  } finally {
    zeroize(messageKey);
  }
}

/** Opens a blob whose header was read by readBlobHeader; every failure is InvalidCiphertextException. */
export function openBlob(header: BlobHeader, blob: Uint8Array, versionKey: Uint8Array, context?: EncryptionContext): Buffer {
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const headerBytes = buf.subarray(0, header.headerLength);
  const saltStart = header.headerLength - SALT_BYTES - GCM_NONCE_BYTES;
  const salt = buf.subarray(saltStart, saltStart + SALT_BYTES);
  const nonce = buf.subarray(saltStart + SALT_BYTES, header.headerLength);
  const messageKey = hkdfSha256(versionKey, salt, MESSAGE_KEY_INFO);
  try {
    return aesGcmOpen(messageKey, nonce, buf.subarray(header.headerLength), aad(headerBytes, context));
  } catch (e) {
    if (e instanceof AuthenticationFailure) throw invalidCiphertext();
    throw e;
  } finally {
    zeroize(messageKey);
  }
}

function aad(header: Buffer, context: EncryptionContext | undefined): Buffer {
  const ctx = canonicalContext(context);
  return ctx.length === 0 ? header : Buffer.concat([header, ctx]);
}
