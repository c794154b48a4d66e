import { KeywardError } from '../errors/index.js';
import { keyArnOf, readKeyId, resolveKeyNoAlias } from './common/resolve-key.js';
import { defineOperation } from './context.js';

/** Deletes imported material now: the key becomes PendingImport until the same material comes back. */
export const deleteImportedKeyMaterial = defineOperation({
  name: 'DeleteImportedKeyMaterial',
  namespace: 'TrentService',
  plane: 'control',
  parse: (input) => ({ keyId: readKeyId(input), keyMaterialId: input.string('KeyMaterialId', { min: 1, max: 64 }) }),
  async run(ctx, req) {
    const key = await resolveKeyNoAlias(ctx, 'KeyId', req.keyId);
    const arn = keyArnOf(ctx, key);
    const id = key.importedMaterial?.keyMaterialId;
    if (req.keyMaterialId !== undefined && req.keyMaterialId !== id) {
      throw new KeywardError('NotFoundException', `Key material ${req.keyMaterialId} is not associated with ${arn}.`);
    }
    await ctx.services.keyring.keys.deleteImportedMaterial(ctx.caller.tenant, key.keyId);
    return { KeyId: arn, ...(id !== undefined ? { KeyMaterialId: id } : {}) };
  },
});
