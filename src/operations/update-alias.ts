import { aliasTarget } from './common/alias-target.js';
import { KEY_ID_RULE } from './common/resolve-key.js';
import { defineOperation } from './context.js';

export const updateAlias = defineOperation({
  name: 'UpdateAlias',
  namespace: 'TrentService',
  plane: 'control',
  parse: (input) => ({
    aliasName: input.requiredString('AliasName', { min: 1, max: 256 }),
    targetKeyId: input.requiredString('TargetKeyId', KEY_ID_RULE),
  }),
  async run(ctx, req) {
    const key = await aliasTarget(ctx, req.targetKeyId);
    await ctx.services.keyring.aliases.update(ctx.caller.tenant, req.aliasName, key.keyId);
    return {};
  },
});
