import { epochSeconds } from './common/key-metadata.js';
import { keyArnOf, readKeyId, resolveKeyIdOnly } from './common/resolve-key.js';
import { defineOperation } from './context.js';

export const getKeyRotationStatus = defineOperation({
  name: 'GetKeyRotationStatus',
  namespace: 'TrentService',
  plane: 'data',
  parse: (input) => ({ keyId: readKeyId(input) }),
  async run(ctx, req) {
    const key = await resolveKeyIdOnly(ctx, req.keyId);
    const out: Record<string, unknown> = { KeyRotationEnabled: key.rotation.enabled, KeyId: keyArnOf(ctx, key) };
    if (key.rotation.enabled) {
      out.RotationPeriodInDays = key.rotation.periodDays;
      if (key.rotation.nextRotationAt !== undefined) out.NextRotationDate = epochSeconds(key.rotation.nextRotationAt);
    }
    return out;
  },
});
