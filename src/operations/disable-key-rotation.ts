import { requireEnabled, requireRotatable } from '../keyring/index.js';
import { readKeyId, resolveKeyIdOnly } from './common/resolve-key.js';
import { defineOperation } from './context.js';

export const disableKeyRotation = defineOperation({
  name: 'DisableKeyRotation',
  namespace: 'TrentService',
  plane: 'control',
  parse: (input) => ({ keyId: readKeyId(input) }),
  async run(ctx, req) {
    const { keys } = ctx.services.keyring;
    const tenant = ctx.caller.tenant;
    const key = await resolveKeyIdOnly(ctx, req.keyId);
    await keys.update(tenant, key.keyId, (k) => {
      requireEnabled(k, keys.arn(tenant, k.keyId));
      requireRotatable(k, keys.arn(tenant, k.keyId));
      if (!k.rotation.enabled) return k;
      const { nextRotationAt: _n, ...rotation } = k.rotation;
      return { ...k, rotation: { ...rotation, enabled: false } };
    });
    return {};
  },
});
