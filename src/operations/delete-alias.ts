import { defineOperation } from './context.js';

export const deleteAlias = defineOperation({
  name: 'DeleteAlias',
  namespace: 'TrentService',
  plane: 'control',
  parse: (input) => ({ aliasName: input.requiredString('AliasName', { min: 1, max: 256 }) }),
  async run(ctx, req) {
    await ctx.services.keyring.aliases.delete(ctx.caller.tenant, req.aliasName);
    return {};
  },
});
