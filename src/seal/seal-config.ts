/** What the seal layer stores in the clear at `core/seal`: public parameters and the wrapped root key. */
export interface Argon2Params {
  readonly algorithm: 'argon2id';
  /** Memory cost in KiB. */
  readonly memoryKiB: number;
  readonly iterations: number;
  readonly parallelism: number;
  /** base64 */
  readonly salt: string;
}

export interface PassphraseSealConfig {
  readonly type: 'passphrase';
  readonly kdf: Argon2Params;
  /** base64 stored-record bytes: the root key sealed under the unseal key. */
  readonly wrappedRootKey: string;
}

/** Recovery shares of an auto-unseal seal: they unseal nothing, they authorise rekey and migration. */
export interface RecoveryConfig {
  readonly shares: number;
  readonly threshold: number;
  /** Check value of the recovery key (see check-value.ts). */
  readonly checkValue: string;
}

export interface ShamirSealConfig {
  readonly type: 'shamir';
  readonly shares: number;
  readonly threshold: number;
  /** Check value of the unseal key: tells a wrong combination of shares from a corrupt record. */
  readonly checkValue: string;
  readonly wrappedRootKey: string;
}

export interface StaticSealConfig {
  readonly type: 'static';
  readonly checkValue: string;
  readonly wrappedRootKey: string;
  readonly recovery: RecoveryConfig;
}

export interface Pkcs11SealConfig {
  readonly type: 'pkcs11';
  /** Label of the AES key inside the HSM (informational: the configured label is used). */
  readonly keyLabel: string;
  /** base64: 12-byte IV || AES-GCM ciphertext and tag, made by the HSM. */
  readonly wrappedRootKey: string;
  readonly recovery: RecoveryConfig;
}

export interface TransitSealConfig {
  readonly type: 'transit';
  readonly endpoint: string;
  readonly keyId: string;
  /** base64 CiphertextBlob of the outer KMS. */
  readonly wrappedRootKey: string;
  readonly recovery: RecoveryConfig;
}

export type SealConfig = PassphraseSealConfig | ShamirSealConfig | StaticSealConfig | Pkcs11SealConfig | TransitSealConfig;
export type SealType = SealConfig['type'];
export type AutoSealConfig = StaticSealConfig | Pkcs11SealConfig | TransitSealConfig;
export const SEAL_TYPES: readonly SealType[] = ['passphrase', 'shamir', 'static', 'pkcs11', 'transit'];

export function isAutoSeal(config: SealConfig): config is AutoSealConfig {
  return config.type === 'static' || config.type === 'pkcs11' || config.type === 'transit';
}

/**
 * The escrow shares last issued (never the shares: their layout and when). A root rotation makes
 * them useless unless it re-issues them; `staleSince` says since when they recover nothing.
 */
export interface EscrowRecord {
  readonly issuedAt: string;
  readonly shares: number;
  readonly threshold: number;
  readonly staleSince?: string;
}

export interface SealConfigRecord {
  readonly formatVersion: 1;
  readonly seal: SealConfig;
  readonly initializedAt: string;
  /** When the seal (or the root key) last changed. */
  readonly changedAt?: string;
  readonly escrow?: EscrowRecord;
}

export function encodeSealConfig(record: SealConfigRecord): Buffer {
  return Buffer.from(JSON.stringify(record));
}

export function decodeSealConfig(bytes: Buffer): SealConfigRecord {
  const parsed = JSON.parse(bytes.toString('utf8')) as SealConfigRecord;
  if (parsed.formatVersion !== 1) throw new Error(`unknown seal config version ${String(parsed.formatVersion)}`);
  if (!SEAL_TYPES.includes(parsed.seal.type)) throw new Error(`unknown seal type ${JSON.stringify(parsed.seal.type)}`);
  return parsed;
}
