import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { hkdfSha256, hmacSha256, zeroize } from '../crypto/index.js';
import { CheckpointKeyring, keySetOf, type CheckpointKeyInfo, type CheckpointKeySet, type CheckpointKeyStore } from './checkpoint-keys.js';
import { checkpointSigningBytes, type AuditCheckpoint, type AuditCheckpointBody } from './record.js';

const NO_SALT = Buffer.alloc(0);

export const HMAC_PREFIX = 'hmac-sha256:';
const MAX_ID_DIGESTS = 10_000;

/**
 * The audit log's keys: an HMAC key for sensitive values, derived by HKDF from the keyring's
 * audit key (itself held under the root key), and the versioned Ed25519 key that signs
 * checkpoints (checkpoint-keys.ts: version 1 derived from the audit key, later versions made by
 * rotation and kept under the barrier). They exist only while Keyward is unsealed.
 */
export class AuditKeys {
  private readonly hmacKey: Buffer;
  private readonly checkpointKeys: CheckpointKeyring;
  private readonly idDigests = new Map<string, string>();

  /** Without a store only version 1 exists (offline tools, tests). */
  constructor(auditKey: Buffer, store?: CheckpointKeyStore) {
    this.hmacKey = hkdfSha256(auditKey, NO_SALT, 'keyward audit hmac v1');
    this.checkpointKeys = new CheckpointKeyring(auditKey, store);
  }

  /** The public key of the checkpoint key version that signs now. */
  get publicKey(): KeyObject {
    return this.checkpointKeys.active.publicKey;
  }

  get fingerprint(): string {
    return this.checkpointKeys.active.fingerprint;
  }

  get keyVersion(): number {
    return this.checkpointKeys.active.version;
  }

  /** Resolves once the checkpoint key versions are loaded from the store (await before signing). */
  ready(): Promise<void> {
    return this.checkpointKeys.ready();
  }

  /** Every checkpoint key version, oldest first (their public keys verify every checkpoint ever signed). */
  get checkpointKeyVersions(): readonly CheckpointKeyInfo[] {
    return this.checkpointKeys.versions;
  }

  /** The public keys of every version, by fingerprint, for verification. */
  publicKeySet(): CheckpointKeySet {
    return this.checkpointKeys.keySet();
  }

  /** A new checkpoint signing key version (the current one is retired, its public key kept). */
  rotateCheckpointKey(now: Date): Promise<CheckpointKeyInfo> {
    return this.checkpointKeys.rotate(now);
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

  /**
   * Signs with the active version (call ready() first after unlock): the checkpoint names the
   * version and its key's fingerprint, whatever the body said.
   */
  sign(body: AuditCheckpointBody): AuditCheckpoint {
    const key = this.checkpointKeys.active;
    const named: AuditCheckpointBody = { ...body, keyFingerprint: key.fingerprint, keyVersion: key.version };
    return { ...named, sig: sign(null, checkpointSigningBytes(named), key.privateKey).toString('base64') };
  }

  publicKeyPem(): string {
    return this.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  /** Best effort: the HMAC key is zeroed; the KeyObjects are dropped with this object. */
  destroy(): void {
    zeroize(this.hmacKey);
    this.idDigests.clear();
    this.checkpointKeys.destroy();
  }
}

/** Reads a PEM public key (Ed25519), as exported by `keyward audit public-key`. */
export function parsePublicKey(pem: string | Buffer): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`the audit public key must be Ed25519, got ${key.asymmetricKeyType ?? 'unknown'}`);
  return key;
}

const PEM_BLOCK = /-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g;

/**
 * The checkpoint keys a verifier is given: one PEM public key (`keyward audit public-key`),
 * several PEM blocks one after another, or the JSON that `keyward audit checkpoint-keys` prints
 * (`{"Keys": [{"Version", "PublicKey"}, ...]}`). Versions come from the JSON; PEM blocks carry
 * none (version 0: unknown), the fingerprint identifies them.
 */
export function parsePublicKeys(text: string): CheckpointKeySet {
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (e) {
      throw new Error(`the checkpoint keys are not valid JSON (${(e as Error).message})`);
    }
    const list = Array.isArray(parsed) ? parsed : (parsed as { Keys?: unknown }).Keys;
    if (!Array.isArray(list) || list.length === 0) throw new Error('the checkpoint keys JSON has no Keys (expected the output of keyward audit checkpoint-keys)');
    return keySetOf(list.map((k: unknown, i) => {
      const o = k as { Version?: unknown; PublicKey?: unknown };
      if (typeof o?.PublicKey !== 'string') throw new Error(`Keys[${i}] has no PublicKey (PEM)`);
      return { version: typeof o.Version === 'number' ? o.Version : i + 1, publicKey: parsePublicKey(o.PublicKey) };
    }));
  }
  const blocks = trimmed.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) throw new Error('no PEM public key (-----BEGIN PUBLIC KEY-----) found');
  return keySetOf(blocks.map((pem) => ({ version: 0, publicKey: parsePublicKey(pem) })));
}

export function checkpointSignatureValid(cp: AuditCheckpoint, publicKey: KeyObject): boolean {
  try {
    return verify(null, checkpointSigningBytes(cp), publicKey, Buffer.from(cp.sig, 'base64'));
  } catch {
    return false;
  }
}
