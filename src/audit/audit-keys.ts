import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { hkdfSha256, hmacSha256, sha256Hex, zeroize } from '../crypto/index.js';
import { checkpointSigningBytes, type AuditCheckpoint, type AuditCheckpointBody } from './record.js';

/** PKCS#8 DER prefix of an Ed25519 private key (RFC 8410); the 32-byte seed follows. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const NO_SALT = Buffer.alloc(0);

export const HMAC_PREFIX = 'hmac-sha256:';
const MAX_ID_DIGESTS = 10_000;

/**
 * The audit log's two keys, both derived by HKDF from the keyring's audit key (itself held under
 * the root key): an HMAC key for sensitive values and the Ed25519 key that signs checkpoints.
 * They exist only while Keyward is unsealed.
 */
export class AuditKeys {
  private readonly hmacKey: Buffer;
  private readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly fingerprint: string;
  private readonly idDigests = new Map<string, string>();

  constructor(auditKey: Buffer) {
    this.hmacKey = hkdfSha256(auditKey, NO_SALT, 'keyward audit hmac v1');
    const seed = hkdfSha256(auditKey, NO_SALT, 'keyward audit signing ed25519 v1');
    const der = Buffer.concat([ED25519_PKCS8_PREFIX, seed]);
    try {
      this.privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    } finally {
      zeroize(seed, der);
    }
    this.publicKey = createPublicKey(this.privateKey);
    this.fingerprint = publicKeyFingerprint(this.publicKey);
  }

  /** `hmac-sha256:<hex>` of a value: equal values correlate, the value is not revealed. */
  hmac(value: string): string {
    return HMAC_PREFIX + hmacSha256(this.hmacKey, value).toString('hex');
  }

  /**
   * The same digest of an identifier that recurs on every request (a token id), remembered: an
   * HMAC per audit record adds up in batches. Only for values that are not secret themselves.
   */
  hmacOfId(id: string): string {
    let d = this.idDigests.get(id);
    if (d === undefined) {
      if (this.idDigests.size >= MAX_ID_DIGESTS) this.idDigests.clear();
      d = this.hmac(id);
      this.idDigests.set(id, d);
    }
    return d;
  }

  sign(body: AuditCheckpointBody): AuditCheckpoint {
    return { ...body, sig: sign(null, checkpointSigningBytes(body), this.privateKey).toString('base64') };
  }

  publicKeyPem(): string {
    return this.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  /** Best effort: the HMAC key is zeroed; the KeyObject is dropped with this object. */
  destroy(): void {
    zeroize(this.hmacKey);
    this.idDigests.clear();
  }
}

export function publicKeyFingerprint(key: KeyObject): string {
  return sha256Hex(key.export({ type: 'spki', format: 'der' }));
}

/** Reads a PEM public key (Ed25519), as exported by `keyward audit public-key`. */
export function parsePublicKey(pem: string | Buffer): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`the audit public key must be Ed25519, got ${key.asymmetricKeyType ?? 'unknown'}`);
  return key;
}

export function checkpointSignatureValid(cp: AuditCheckpoint, publicKey: KeyObject): boolean {
  try {
    return verify(null, checkpointSigningBytes(cp), publicKey, Buffer.from(cp.sig, 'base64'));
  } catch {
    return false;
  }
}
