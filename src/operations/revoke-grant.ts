import { dryRun } from './common/dry-run.js';
import { grantNotFound, readGrantId } from './common/grants.js';
import { readKeyId, resolveKeyIdOnly } from './common/resolve-key.js';
import { defineOperation } from './context.js';

/** Deletes a grant of a key: a key-management action (kms:RevokeGrant in the key policy). */
export const revokeGrant = defineOperation({
  name: 'RevokeGrant',
  namespace: 'TrentService',
  plane: 'control',
  parse: (input) => ({ keyId: readKeyId(input), grantId: readGrantId(input, true), dryRun: input.boolean('DryRun') }),
  async run(ctx, req) {
    const tenant = ctx.caller.tenant;
    const key = await resolveKeyIdOnly(ctx, req.keyId);
    if (await ctx.services.keyring.grants.find(tenant, key.keyId, req.grantId) === undefined) throw grantNotFound(req.grantId);
    dryRun(req.dryRun);
    if (!await ctx.services.keyring.grants.delete(tenant, key.keyId, req.grantId)) throw grantNotFound(req.grantId);
    return {};
  },
});
