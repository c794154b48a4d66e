import { requireNotPendingDeletion } from '../keyring/index.js';
import { readKeyId, resolveKeyIdOnly } from './common/resolve-key.js';
import { defineOperation } from './context.js';

export const updateKeyDescription = defineOperation({
  name: 'UpdateKeyDescription',
  namespace: 'TrentService',
  plane: 'control',
  parse: (input) => ({ keyId: readKeyId(input), description: input.requiredString('Description', { max: 8192 }) }),
  async run(ctx, req) {
    const { keys } = ctx.services.keyring;
    const tenant = ctx.caller.tenant;
    const key = await resolveKeyIdOnly(ctx, req.keyId);
    await keys.update(tenant, key.keyId, (k) => {
      requireNotPendingDeletion(k, keys.arn(tenant, k.keyId));
      return { ...k, description: req.description };
    });
    return {};
  },
});
