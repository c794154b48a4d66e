import { readKeyId, resolveKeyIdOnly } from './common/resolve-key.js';
import { defineOperation } from './context.js';

/** Adds a new primary version now; older versions keep decrypting. */
export const rotateKeyOnDemand = defineOperation({
  name: 'RotateKeyOnDemand',
  namespace: 'TrentService',
  plane: 'control',
  parse: (input) => ({ keyId: readKeyId(input) }),
  async run(ctx, req) {
    const key = await resolveKeyIdOnly(ctx, req.keyId);
    await ctx.services.keyring.keys.rotate(ctx.caller.tenant, key.keyId, 'ON_DEMAND');
    return { KeyId: key.keyId };
  },
});
