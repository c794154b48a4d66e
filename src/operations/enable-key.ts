import { requireNotPendingDeletion, requireNotPendingImport } from '../keyring/index.js';
import { readKeyId, resolveKeyIdOnly } from './common/resolve-key.js';
import { defineOperation } from './context.js';

export const enableKey = defineOperation({
  name: 'EnableKey',
  namespace: 'TrentService',
  plane: 'control',
  parse: (input) => ({ keyId: readKeyId(input) }),
  async run(ctx, req) {
    const { keys } = ctx.services.keyring;
    const tenant = ctx.caller.tenant;
    const key = await resolveKeyIdOnly(ctx, req.keyId);
    await keys.update(tenant, key.keyId, (k) => {
      requireNotPendingDeletion(k, keys.arn(tenant, k.keyId));
      requireNotPendingImport(k, keys.arn(tenant, k.keyId));
      return k.keyState === 'Enabled' ? k : { ...k, keyState: 'Enabled' };
    });
    return {};
  },
});
