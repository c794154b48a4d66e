import { randomBytes } from '../crypto/index.js';

/**
 * The keyring record (path `core/keyring`), encrypted under the root key. It holds the barrier
 * keys by term and the secrets every tenant and the audit log derive from.
 */
export interface BarrierTerm {
  readonly term: number;
  readonly key: Buffer;
  readonly createdAt: string;
  /**
   * Encryptions reserved under this term by every node (persisted before use, in blocks), so the
   * count survives crashes and is never under-counted; the term rotates before a configured limit.
   */
  readonly encryptions: number;
}

export interface KeyringRecord {
  readonly formatVersion: 1;
  readonly terms: readonly BarrierTerm[];
  readonly activeTerm: number;
  /** HKDF input for tenant master keys (DESIGN.md section 1). */
  readonly tenantDerivationKey: Buffer;
  /** HMAC key for sensitive audit values and the seed of the audit signing key. */
  readonly auditKey: Buffer;
}

export function newKeyringRecord(now: Date, reserved = 0): KeyringRecord {
  return {
    formatVersion: 1,
    terms: [{ term: 1, key: randomBytes(32), createdAt: now.toISOString(), encryptions: reserved }],
    activeTerm: 1,
    tenantDerivationKey: randomBytes(32),
    auditKey: randomBytes(32),
  };
}

export function encodeKeyringRecord(r: KeyringRecord): Buffer {
  return Buffer.from(JSON.stringify({
    formatVersion: r.formatVersion,
    terms: r.terms.map((t) => ({ term: t.term, key: t.key.toString('base64'), createdAt: t.createdAt, encryptions: t.encryptions })),
    activeTerm: r.activeTerm,
    tenantDerivationKey: r.tenantDerivationKey.toString('base64'),
    auditKey: r.auditKey.toString('base64'),
  }));
}

export function decodeKeyringRecord(bytes: Buffer): KeyringRecord {
  const raw = JSON.parse(bytes.toString('utf8')) as {
    formatVersion: number; activeTerm: number; tenantDerivationKey: string; auditKey: string;
    terms: Array<{ term: number; key: string; createdAt: string; encryptions?: number }>;
  };
  if (raw.formatVersion !== 1) throw new Error(`unknown keyring record version ${raw.formatVersion}`);
  return {
    formatVersion: 1,
    terms: raw.terms.map((t) => ({ term: t.term, key: Buffer.from(t.key, 'base64'), createdAt: t.createdAt, encryptions: t.encryptions ?? 0 })),
    activeTerm: raw.activeTerm,
    tenantDerivationKey: Buffer.from(raw.tenantDerivationKey, 'base64'),
    auditKey: Buffer.from(raw.auditKey, 'base64'),
  };
}
