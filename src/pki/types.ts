/** Records the PKI keeps through the barrier (JSON; paths in keyring/paths.ts). */

export interface CaRecord {
  /** Undefined for the root CA. */
  readonly tenantId?: string;
  /** 1 for the first CA of a tenant (and for the root); RotateTenantCA adds the next. */
  readonly generation: number;
  /** The active CA issues; a retired one only signs CRLs and OCSP answers for what it issued. */
  readonly state: 'active' | 'retired';
  /** base64 DER */
  readonly certificate: string;
  readonly serialNumber: string;
  readonly subject: string;
  readonly notBefore: string;
  readonly notAfter: string;
  /** PKCS#8 private key wrapped under the (system) tenant's master key; never leaves Keyward. */
  readonly wrappedKey: string;
  readonly createdAt: string;
  readonly retiredAt?: string;
  /** Time of the last revocation of a certificate it issued (CRL numbers derive from it). */
  readonly revisedAt: string;
}

/** RFC 5280 CRLReason codes (7 is unused; removeFromCRL only appears in delta CRLs). */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;

export type RevocationReason = keyof typeof REVOCATION_REASONS;

export interface Revocation {
  readonly revokedAt: string;
  readonly reason: RevocationReason;
}

export interface CertificateRecord {
  readonly tenantId: string;
  readonly serialNumber: string;
  /** Generation of the tenant CA that issued it. */
  readonly caGeneration: number;
  readonly subject: string;
  readonly principal: string;
  readonly role: string;
  readonly email?: string;
  /** Whether Keyward generated the key pair (returned once) or the caller sent a CSR. */
  readonly keySource: 'CSR' | 'GENERATED';
  /** e.g. EC_P256, RSA_2048, ED25519 */
  readonly keySpec: string;
  readonly notBefore: string;
  readonly notAfter: string;
  /** base64 DER */
  readonly certificate: string;
  readonly createdAt: string;
  readonly revoked?: Revocation;
}

/** The index entry CRLs, OCSP and mTLS read: one per revoked certificate. */
export interface RevocationRecord extends Revocation {
  readonly serialNumber: string;
  readonly caGeneration: number;
  readonly notAfter: string;
}
