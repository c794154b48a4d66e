import { zeroize } from '../crypto/index.js';
import { KeywardError } from '../errors/index.js';
import { EXPIRATION_MODELS, IMPORT_TYPES } from '../keyring/index.js';
import { checkImportedMaterial, requireImportable, unwrapImportedMaterial } from './common/key-import.js';
import { invalid } from './common/input.js';
import { keyArnOf, readKeyId, resolveKeyNoAlias } from './common/resolve-key.js';
import { defineOperation } from './context.js';

/** AWS: ValidTo is at most 365 days after the request. */
const MAX_VALID_DAYS = 365;

/** Imports wrapped key material into a PendingImport key of origin EXTERNAL (BYOK). */
export const importKeyMaterial = defineOperation({
  name: 'ImportKeyMaterial',
  namespace: 'TrentService',
  plane: 'control',
  parse: (input) => {
    const expirationModel = input.oneOf('ExpirationModel', EXPIRATION_MODELS) ?? 'KEY_MATERIAL_EXPIRES';
    const validTo = input.timestamp('ValidTo');
    if (expirationModel === 'KEY_MATERIAL_EXPIRES' && validTo === undefined) throw invalid('ValidTo', 'Member must not be null when ExpirationModel is KEY_MATERIAL_EXPIRES');
    if (expirationModel === 'KEY_MATERIAL_DOES_NOT_EXPIRE' && validTo !== undefined) throw invalid('ValidTo', 'Member must be null when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE');
    return {
      keyId: readKeyId(input),
      token: input.requiredBlob('ImportToken', { min: 1, max: 6144 }),
      encrypted: input.requiredBlob('EncryptedKeyMaterial', { min: 1, max: 6144 }),
      expirationModel,
      validTo,
      importType: input.oneOf('ImportType', IMPORT_TYPES),
      keyMaterialId: input.string('KeyMaterialId', { min: 64, max: 64 }),
      description: input.string('KeyMaterialDescription', { max: 256 }),
    };
  },
  async run(ctx, req) {
    const { keyring } = ctx.services;
    const tenant = ctx.caller.tenant;
    const key = await resolveKeyNoAlias(ctx, 'KeyId', req.keyId);
    const arn = keyArnOf(ctx, key);
    requireImportable(arn, key);
    const now = ctx.services.clock();
    if (req.validTo !== undefined) {
      const ms = req.validTo.getTime() - now.getTime();
      if (ms <= 0 || ms > MAX_VALID_DAYS * 86_400_000) throw invalid('ValidTo', `Member must be a future time at most ${MAX_VALID_DAYS} days from now`);
    }
    if (req.importType === 'NEW_KEY_MATERIAL' && key.importedMaterial !== undefined) {
      throw new KeywardError('UnsupportedOperationException', `${arn} already has key material: importing new key material into it (rotation of imported material) is not supported; re-import the same material (EXISTING_KEY_MATERIAL).`);
    }
    const token = await keyring.imports.open(tenant, key.keyId, req.token);
    const material = checkImportedMaterial(key, unwrapImportedMaterial(token, req.encrypted));
    try {
      const expiry = { expirationModel: req.expirationModel, ...(req.validTo !== undefined ? { validTo: req.validTo.toISOString() } : {}) };
      const { keyMaterialId } = await keyring.keys.importMaterial(tenant, key.keyId, material, expiry, req.keyMaterialId);
      return { KeyId: arn, KeyMaterialId: keyMaterialId };
    } finally {
      zeroize(material);
    }
  },
});
