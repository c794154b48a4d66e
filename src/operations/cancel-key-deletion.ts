import { KeywardError } from '../errors/index.js';
import { readKeyId, resolveKeyIdOnly } from './common/resolve-key.js';
import { defineOperation } from './context.js';

/** Cancels a scheduled deletion; the key comes back Disabled (PendingImport without its imported material), as in AWS. */
export const cancelKeyDeletion = defineOperation({
  name: 'CancelKeyDeletion',
  namespace: 'TrentService',
  plane: 'control',
  parse: (input) => ({ keyId: readKeyId(input) }),
  async run(ctx, req) {
    const { keys } = ctx.services.keyring;
    const tenant = ctx.caller.tenant;
    const key = await resolveKeyIdOnly(ctx, req.keyId);
    const arn = keys.arn(tenant, key.keyId);
    await keys.update(tenant, key.keyId, (k) => {
      if (k.keyState !== 'PendingDeletion') throw new KeywardError('KMSInvalidStateException', `${arn} is not pending deletion.`);
      const { deletionDate: _d, pendingWindowInDays: _w, ...rest } = k;
      return { ...rest, keyState: k.origin === 'EXTERNAL' && k.importedMaterial?.current === undefined ? 'PendingImport' : 'Disabled' };
    });
    return { KeyId: arn };
  },
});
