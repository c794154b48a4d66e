import type { KeyRecord, Tenant } from '../../keyring/index.js';
import { algorithmsOf, keyArn } from '../../keyring/index.js';

export const epochSeconds = (iso: string): number => Date.parse(iso) / 1000;

/** The algorithm lists of a key, named as DescribeKey and GetPublicKey name them. */
export function algorithmFields(key: KeyRecord): Record<string, readonly string[]> {
  const a = algorithmsOf(key.keySpec, key.keyUsage);
  const out: Record<string, readonly string[]> = {};
  if (a.encryption) out.EncryptionAlgorithms = a.encryption;
  if (a.signing) out.SigningAlgorithms = a.signing;
  if (a.mac) out.MacAlgorithms = a.mac;
  if (a.keyAgreement) out.KeyAgreementAlgorithms = a.keyAgreement;
  return out;
}

/** AWS KeyMetadata for a key record. */
export function keyMetadata(region: string, tenant: Tenant, key: KeyRecord): Record<string, unknown> {
  const meta: Record<string, unknown> = {
    AWSAccountId: tenant.accountId,
    KeyId: key.keyId,
    Arn: keyArn(region, tenant, key.keyId),
    CreationDate: epochSeconds(key.createdAt),
    Enabled: key.keyState === 'Enabled',
    Description: key.description,
    KeyUsage: key.keyUsage,
    KeyState: key.keyState,
    Origin: key.origin,
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: key.keySpec,
    KeySpec: key.keySpec,
    ...algorithmFields(key),
    MultiRegion: false,
  };
  if (key.deletionDate !== undefined) meta.DeletionDate = epochSeconds(key.deletionDate);
  if (key.pendingWindowInDays !== undefined) meta.PendingDeletionWindowInDays = key.pendingWindowInDays;
  const imported = key.importedMaterial?.current;
  if (imported !== undefined) {
    meta.ExpirationModel = imported.expirationModel;
    if (imported.validTo !== undefined) meta.ValidTo = epochSeconds(imported.validTo);
    meta.CurrentKeyMaterialId = key.importedMaterial?.keyMaterialId;
  }
  return meta;
}

/** A key's versions as ListKeyVersions answers them (the key-group operations answer the same). */
export function versionsView(key: KeyRecord): Array<Record<string, unknown>> {
  return key.versions.map((v) => ({
    Version: v.version,
    State: v.state,
    Primary: v.version === key.primaryVersion,
    CreationDate: epochSeconds(v.createdAt),
    RotationType: v.rotationType,
    ...(v.destroyedAt !== undefined ? { DestructionDate: epochSeconds(v.destroyedAt) } : {}),
  }));
}
