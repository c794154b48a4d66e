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

export type SealConfig = PassphraseSealConfig;

export interface SealConfigRecord {
  readonly formatVersion: 1;
  readonly seal: SealConfig;
  readonly initializedAt: string;
}

export function encodeSealConfig(record: SealConfigRecord): Buffer {
  return Buffer.from(JSON.stringify(record));
}

export function decodeSealConfig(bytes: Buffer): SealConfigRecord {
  const parsed = JSON.parse(bytes.toString('utf8')) as SealConfigRecord;
  if (parsed.formatVersion !== 1) throw new Error(`unknown seal config version ${String(parsed.formatVersion)}`);
  return parsed;
}
