import { aliasTarget } from './common/alias-target.js';
import { KEY_ID_RULE } from './common/resolve-key.js';
import { defineOperation } from './context.js';

export const createAlias = defineOperation({
  name: 'CreateAlias',
  namespace: 'TrentService',
  plane: 'control',
  parse: (input) => ({
    aliasName: input.requiredString('AliasName', { min: 1, max: 256 }),
    targetKeyId: input.requiredString('TargetKeyId', KEY_ID_RULE),
  }),
  async run(ctx, req) {
    const key = await aliasTarget(ctx, req.targetKeyId);
    await ctx.services.keyring.aliases.create(ctx.caller.tenant, req.aliasName, key.keyId);
    return {};
  },
});
