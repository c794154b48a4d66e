import type { KeyRecord, Tenant } from '../../keyring/index.js';
import { keyArn } from '../../keyring/index.js';

export const epochSeconds = (iso: string): number => Date.parse(iso) / 1000;

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
    EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    MultiRegion: false,
  };
  if (key.deletionDate !== undefined) meta.DeletionDate = epochSeconds(key.deletionDate);
  if (key.pendingWindowInDays !== undefined) meta.PendingDeletionWindowInDays = key.pendingWindowInDays;
  return meta;
}
