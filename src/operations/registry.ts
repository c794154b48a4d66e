import type { Namespace, Operation } from './context.js';
import { auditHash } from './audit-hash.js';
import { batchDecrypt } from './batch-decrypt.js';
import { batchEncrypt } from './batch-encrypt.js';
import { batchScopeDecrypt } from './batch-scope-decrypt.js';
import { batchScopeEncrypt } from './batch-scope-encrypt.js';
import { configureScopes } from './configure-scopes.js';
import { createScope } from './create-scope.js';
import { describeScope } from './describe-scope.js';
import { rotateScope } from './rotate-scope.js';
import { scopeDecrypt } from './scope-decrypt.js';
import { scopeEncrypt } from './scope-encrypt.js';
import { scopeReEncrypt } from './scope-re-encrypt.js';
import { cancelKeyDeletion } from './cancel-key-deletion.js';
import { cancelTenantDeletion } from './cancel-tenant-deletion.js';
import { createAlias } from './create-alias.js';
import { createKey } from './create-key.js';
import { createGrant } from './create-grant.js';
import { getKeyPolicy } from './get-key-policy.js';
import { listGrants } from './list-grants.js';
import { listKeyPolicies } from './list-key-policies.js';
import { listRetirableGrants } from './list-retirable-grants.js';
import { putKeyPolicy } from './put-key-policy.js';
import { retireGrant } from './retire-grant.js';
import { revokeGrant } from './revoke-grant.js';
import { createPrincipal } from './create-principal.js';
import { createRootCA } from './create-root-ca.js';
import { createTenantCA } from './create-tenant-ca.js';
import { createTenant } from './create-tenant.js';
import { decrypt } from './decrypt.js';
import { deleteImportedKeyMaterial } from './delete-imported-key-material.js';
import { deriveSharedSecret } from './derive-shared-secret.js';
import { deleteAlias } from './delete-alias.js';
import { deletePrincipal } from './delete-principal.js';
import { deleteTenant } from './delete-tenant.js';
import { describeKey } from './describe-key.js';
import { describeTenant } from './describe-tenant.js';
import { destroyKeyVersion } from './destroy-key-version.js';
import { disableKey } from './disable-key.js';
import { disableKeyRotation } from './disable-key-rotation.js';
import { disableKeyVersion } from './disable-key-version.js';
import { enableKey } from './enable-key.js';
import { enableKeyRotation } from './enable-key-rotation.js';
import { enableKeyVersion } from './enable-key-version.js';
import { encrypt } from './encrypt.js';
import { escrow } from './escrow.js';
import { generateDataKey } from './generate-data-key.js';
import { generateDataKeyPair } from './generate-data-key-pair.js';
import { generateDataKeyPairWithoutPlaintext } from './generate-data-key-pair-without-plaintext.js';
import { generateMac } from './generate-mac.js';
import { generateDataKeyWithoutPlaintext } from './generate-data-key-without-plaintext.js';
import { generateRandom } from './generate-random.js';
import { getAuditPublicKey } from './get-audit-public-key.js';
import { listAuditPublicKeys } from './list-audit-public-keys.js';
import { rotateAuditCheckpointKey } from './rotate-audit-checkpoint-key.js';
import { getCallerIdentity } from './get-caller-identity.js';
import { getCertificate } from './get-certificate.js';
import { getCertificateStatus } from './get-certificate-status.js';
import { getCRL } from './get-crl.js';
import { getKeyRotationStatus } from './get-key-rotation-status.js';
import { getParametersForImport } from './get-parameters-for-import.js';
import { getPublicKey } from './get-public-key.js';
import { getRootCA } from './get-root-ca.js';
import { getTenantCA } from './get-tenant-ca.js';
import { health } from './health.js';
import { importKeyMaterial } from './import-key-material.js';
import { init } from './init.js';
import { issueCertificate } from './issue-certificate.js';
import { listAliases } from './list-aliases.js';
import { listAuditRecords } from './list-audit-records.js';
import { listCertificates } from './list-certificates.js';
import { listKeyRotations } from './list-key-rotations.js';
import { listKeyVersions } from './list-key-versions.js';
import { listKeys } from './list-keys.js';
import { createKeyGroupOperation } from './create-key-group.js';
import { listKeyGroups } from './list-key-groups.js';
import { provisionDefaultKeyGroup } from './provision-default-key-group.js';
import { listPrincipals } from './list-principals.js';
import { listResourceTags } from './list-resource-tags.js';
import { listTenants } from './list-tenants.js';
import { pruneAudit } from './prune-audit.js';
import { reEncrypt } from './re-encrypt.js';
import { resumeTenant } from './resume-tenant.js';
import { rekey } from './rekey.js';
import { respondOCSP } from './respond-ocsp.js';
import { revokeCertificate } from './revoke-certificate.js';
import { rotateKeyOnDemand } from './rotate-key-on-demand.js';
import { rotateBarrier } from './rotate-barrier.js';
import { rotateRoot } from './rotate-root.js';
import { rotateTenantCA } from './rotate-tenant-ca.js';
import { scheduleKeyDeletion } from './schedule-key-deletion.js';
import { seal } from './seal.js';
import { sign } from './sign.js';
import { sealStatus } from './seal-status.js';
import { suspendTenant } from './suspend-tenant.js';
import { tagResource } from './tag-resource.js';
import { unseal } from './unseal.js';
import { untagResource } from './untag-resource.js';
import { updateAlias } from './update-alias.js';
import { updateKeyDescription } from './update-key-description.js';
import { updateTenant } from './update-tenant.js';
import { verify } from './verify.js';
import { verifyAudit } from './verify-audit.js';
import { verifyMac } from './verify-mac.js';

/** Operations reachable as X-Amz-Target `<namespace>.<name>`. */
const TARGETED: readonly Operation[] = [
  createKey, describeKey, listKeys, updateKeyDescription, enableKey, disableKey, scheduleKeyDeletion,
  cancelKeyDeletion, encrypt, decrypt, reEncrypt, generateDataKey, generateDataKeyWithoutPlaintext,
  generateRandom, createAlias, updateAlias, deleteAlias, listAliases, enableKeyRotation,
  disableKeyRotation, getKeyRotationStatus, rotateKeyOnDemand, listKeyRotations, tagResource,
  untagResource, listResourceTags,
  putKeyPolicy, getKeyPolicy, listKeyPolicies,
  createGrant, listGrants, listRetirableGrants, retireGrant, revokeGrant,
  sign, verify, getPublicKey, generateMac, verifyMac, generateDataKeyPair, generateDataKeyPairWithoutPlaintext,
  deriveSharedSecret, getParametersForImport, importKeyMaterial, deleteImportedKeyMaterial,
  listKeyVersions, disableKeyVersion, enableKeyVersion, destroyKeyVersion, createPrincipal,
  listPrincipals, deletePrincipal, createTenant, listTenants, describeTenant, updateTenant, suspendTenant,
  resumeTenant, deleteTenant, cancelTenantDeletion, getCallerIdentity,
  listAuditRecords, verifyAudit, auditHash, getAuditPublicKey, listAuditPublicKeys, rotateAuditCheckpointKey, pruneAudit,
  batchEncrypt, batchDecrypt,
  scopeEncrypt, scopeDecrypt, scopeReEncrypt, createScope, rotateScope, describeScope, configureScopes,
  batchScopeEncrypt, batchScopeDecrypt,
  createRootCA, getRootCA, createTenantCA, rotateTenantCA, getTenantCA, issueCertificate, listCertificates,
  getCertificate, revokeCertificate, getCRL, getCertificateStatus, respondOCSP,
];

const BY_TARGET = new Map<string, Operation>(TARGETED.map((op) => [`${op.namespace}.${op.name}`, op]));

export function operationForTarget(target: string): Operation | undefined {
  return BY_TARGET.get(target);
}

/**
 * AWS KMS operations Keyward does not implement (custom key stores, multi-Region keys): they answer
 * UnsupportedOperationException; UnknownOperationException stays for targets AWS does not have.
 */
export const UNSUPPORTED_AWS_OPERATIONS = [
  'ConnectCustomKeyStore', 'CreateCustomKeyStore', 'DeleteCustomKeyStore', 'DescribeCustomKeyStores',
  'DisconnectCustomKeyStore', 'UpdateCustomKeyStore', 'ReplicateKey', 'UpdatePrimaryRegion',
] as const;
const UNSUPPORTED = new Set<string>(UNSUPPORTED_AWS_OPERATIONS.map((name) => `TrentService.${name}`));

export function isUnsupportedAwsTarget(target: string): boolean {
  return UNSUPPORTED.has(target);
}

export function targetsOf(namespace: Namespace): string[] {
  return TARGETED.filter((op) => op.namespace === namespace).map((op) => op.name);
}

/** What relying parties read without credentials, served under /v1/pki/* (see api/http). */
export const pkiPublic = { getRootCA, getTenantCA, getCRL, respondOCSP } as const;

/** The seal lifecycle, served under /v1/sys/* (and callable in-process by the CLI). */
export const sys = { health, sealStatus, init, unseal, seal, rekey, rotateRoot, rotateBarrier, escrow } as const;

/**
 * Key groups (mini-kms's model, served by api/minikms): a key behind alias/<group>. Not wire
 * targets of their own: the AWS protocol reaches the same keys through their aliases.
 */
export const keyGroups = { createKeyGroup: createKeyGroupOperation, listKeyGroups, provisionDefaultKeyGroup } as const;

/** Every operation name a transport can reach: a closed set (metric labels come only from it). */
export const OPERATION_NAMES: ReadonlySet<string> = new Set([...TARGETED, ...Object.values(sys), ...Object.values(pkiPublic), ...Object.values(keyGroups)].map((op) => op.name));
