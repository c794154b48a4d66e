/** Records the keyring stores through the barrier (JSON, one record per path; see paths.ts). */

export interface Tenant {
  readonly id: string;
  /** The 12-digit account id in ARNs. */
  readonly accountId: string;
  /** base64 random salt of the tenant master key; deleting it crypto-shreds the tenant. */
  readonly salt: string;
  readonly createdAt: string;
  /** Scopes (named keys created on first use): whether data-plane principals may create them implicitly (default yes). */
  readonly scopes?: { readonly implicitCreate: boolean };
}

export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion';
export type VersionState = 'Enabled' | 'Disabled' | 'Destroyed';
export type RotationType = 'INITIAL' | 'AUTOMATIC' | 'ON_DEMAND';

export interface KeyVersion {
  readonly version: number;
  readonly state: VersionState;
  readonly createdAt: string;
  readonly rotationType: RotationType;
  readonly destroyedAt?: string;
}

export interface KeyRotation {
  readonly enabled: boolean;
  readonly periodDays: number;
  /** When automatic rotation is next due (present while enabled). */
  readonly nextRotationAt?: string;
  readonly onDemandStartedAt?: string;
}

export interface KeyRecord {
  readonly tenantId: string;
  readonly keyId: string;
  readonly description: string;
  readonly keyState: KeyState;
  readonly keySpec: 'SYMMETRIC_DEFAULT';
  readonly keyUsage: 'ENCRYPT_DECRYPT';
  readonly origin: 'AWS_KMS';
  readonly createdAt: string;
  readonly deletionDate?: string;
  readonly pendingWindowInDays?: number;
  /** The version that encrypts; every other non-destroyed, enabled version only decrypts. */
  readonly primaryVersion: number;
  readonly versions: readonly KeyVersion[];
  readonly rotation: KeyRotation;
  readonly tags: Readonly<Record<string, string>>;
  /**
   * Usage-bounded rotation (scope keys): at most this many encryptions per version; the
   * encryption that would pass it rotates the key first (counts in `usage/`, see Usage).
   */
  readonly maxEncryptions?: number;
}

/** Encryptions reserved (by every node together) under one key version. */
export interface UsageRecord {
  readonly reserved: number;
}

export interface AliasRecord {
  readonly tenantId: string;
  /** Full name, starting with `alias/`. */
  readonly aliasName: string;
  readonly targetKeyId: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export type Role = 'admin' | 'user';

export interface PrincipalRecord {
  readonly tenantId: string;
  readonly name: string;
  readonly role: Role;
  readonly accessKeyId: string;
  /** SigV4 secret access key (the record is barrier-encrypted). */
  readonly secretAccessKey: string;
  readonly tokenId: string;
  /** hex SHA-256 of the bearer token's secret part; the token itself is never stored. */
  readonly tokenHash: string;
  readonly createdAt: string;
}

/** Index records pointing from a credential id to its principal. */
export interface CredentialIndex {
  readonly tenantId: string;
  readonly name: string;
}
