import type { ExpirationModel, GrantOperation, SupportedKeySpec, SupportedKeyUsage, SupportedOrigin } from './key-specs.js';

/** Records the keyring stores through the barrier (JSON, one record per path; see paths.ts). */

export type TenantState = 'Active' | 'Suspended' | 'PendingDeletion';

/** Limits of one tenant; 0 means unlimited. */
export interface TenantQuotas {
  readonly maxKeys: number;
  readonly maxPrincipals: number;
  /** Requests per second shared by every principal of the tenant (a token bucket per node). */
  readonly requestsPerSecond: number;
  /** Requests the tenant may send at once above its rate (the bucket size); 0: one second's worth. */
  readonly burst: number;
}

export interface Tenant {
  readonly id: string;
  /** The 12-digit account id in ARNs. */
  readonly accountId: string;
  /** base64 random salt of the tenant master key; deleting it crypto-shreds the tenant. */
  readonly salt: string;
  readonly createdAt: string;
  /** Present while suspended: every request of its principals is refused, nothing is deleted. */
  readonly suspension?: { readonly reason: string; readonly at: string };
  /**
   * Present while pending deletion (whatever the suspension): cancelling removes only this, so the
   * tenant comes back exactly as it was.
   */
  readonly deletion?: { readonly date: string; readonly windowDays: number; readonly requestedAt: string };
  /** The reason given with the last ResumeTenant. */
  readonly resumeReason?: string;
  /** Quotas set for this tenant; each overrides the configured default. */
  readonly quotas?: Partial<TenantQuotas>;
  /** Scopes (named keys created on first use): whether data-plane principals may create them implicitly (default yes). */
  readonly scopes?: { readonly implicitCreate: boolean };
}

/** How much of its quotas a tenant uses, kept exact by the transactions that create and delete. */
export interface TenantUsage {
  readonly keys: number;
  readonly principals: number;
}

/** PendingImport: a key of origin EXTERNAL without key material (never imported, deleted or expired). */
export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion' | 'PendingImport';
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
  readonly keySpec: SupportedKeySpec;
  readonly keyUsage: SupportedKeyUsage;
  readonly origin: SupportedOrigin;
  /** DER SubjectPublicKeyInfo (base64) of an asymmetric key: public, so read without unwrapping. */
  readonly publicKey?: string;
  /** Origin EXTERNAL: the material imported (kept after deletion: a re-import must be the same). */
  readonly importedMaterial?: ImportedMaterial;
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
   * encryption that would pass it rotates the key first (counts in `encryptions/`, see EncryptionCounts).
   */
  readonly maxEncryptions?: number;
  /** The key policy document as given to PutKeyPolicy/CreateKey; absent: the default policy. */
  readonly policy?: string;
}

/** A grant (CreateGrant): the grantee may perform its operations on the key, within its constraints. */
export interface GrantRecord {
  readonly tenantId: string;
  readonly keyId: string;
  readonly grantId: string;
  readonly name?: string;
  readonly granteePrincipal: string;
  readonly retiringPrincipal?: string;
  /** The principal ARN that created it; IssuingAccount is its account's root. */
  readonly issuer: string;
  readonly operations: readonly GrantOperation[];
  readonly constraints?: GrantConstraints;
  readonly createdAt: string;
}

export interface GrantConstraints {
  readonly encryptionContextEquals?: Readonly<Record<string, string>>;
  readonly encryptionContextSubset?: Readonly<Record<string, string>>;
}

/** Encryptions reserved (by every node together) under one key version. */
export interface EncryptionCountRecord {
  readonly reserved: number;
}

export interface ImportedMaterial {
  /** Identifies the material (HMAC under the tenant master key; reveals nothing of it). */
  readonly keyMaterialId: string;
  /** Present while the material is in the key; absent once deleted or expired. */
  readonly current?: {
    readonly importedAt: string;
    readonly expirationModel: ExpirationModel;
    readonly validTo?: string;
  };
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
  /**
   * SigV4 secret access key: the bytes of its text (40 base64 characters), never a string, so it
   * can be zeroed when the record leaves the cache (stored as a JSON string in the barrier-encrypted record).
   */
  readonly secretAccessKey: Buffer;
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
