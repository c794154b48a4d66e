import { addDays, requireEnabled, requireRotatable } from '../keyring/index.js';
import { readKeyId, resolveKeyIdOnly } from './common/resolve-key.js';
import { defineOperation } from './context.js';

export const DEFAULT_ROTATION_DAYS = 365;

export const enableKeyRotation = defineOperation({
  name: 'EnableKeyRotation',
  namespace: 'TrentService',
  plane: 'control',
  parse: (input) => ({
    keyId: readKeyId(input),
    periodDays: input.integer('RotationPeriodInDays', { min: 90, max: 2560 }),
  }),
  async run(ctx, req) {
    const { keys } = ctx.services.keyring;
    const tenant = ctx.caller.tenant;
    const key = await resolveKeyIdOnly(ctx, req.keyId);
    await keys.update(tenant, key.keyId, (k, now) => {
      requireEnabled(k, keys.arn(tenant, k.keyId));
      requireRotatable(k, keys.arn(tenant, k.keyId));
      const periodDays = req.periodDays ?? (k.rotation.enabled ? k.rotation.periodDays : DEFAULT_ROTATION_DAYS);
      if (k.rotation.enabled && k.rotation.periodDays === periodDays) return k;
      return { ...k, rotation: { ...k.rotation, enabled: true, periodDays, nextRotationAt: addDays(now, periodDays).toISOString() } };
    });
    return {};
  },
});
