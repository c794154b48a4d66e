import { constraintsWithin, principalArn } from '../authz/index.js';
import { KeywardError } from '../errors/index.js';
import { GRANT_OPERATIONS, grantToken, requireNotPendingDeletion } from '../keyring/index.js';
import { dryRun } from './common/dry-run.js';
import { GRANT_TOKENS_RULE, readConstraints, readGrantName, readPrincipal } from './common/grants.js';
import { authorizeKey } from './common/key-access.js';
import { readKeyId, resolveKeyIdOnly } from './common/resolve-key.js';
import { defineOperation } from './context.js';

/**
 * Gives a principal some operations on a key. Created under a grant (its CreateGrant operation),
 * the new grant may not widen it: its operations are a subset and its constraints as strict.
 */
export const createGrant = defineOperation({
  name: 'CreateGrant',
  namespace: 'TrentService',
  plane: 'data',
  parse: (input) => {
    const operations = input.oneOfList('Operations', GRANT_OPERATIONS, { min: 1 });
    if (operations === undefined) throw new KeywardError('ValidationException', "1 validation error detected: Value null at 'operations' failed to satisfy constraint: Member must not be null");
    const retiringPrincipal = readPrincipal(input, 'RetiringPrincipal', false);
    const constraints = readConstraints(input);
    const name = readGrantName(input);
    return {
      keyId: readKeyId(input),
      granteePrincipal: readPrincipal(input, 'GranteePrincipal', true),
      operations: [...new Set(operations)],
      ...(retiringPrincipal !== undefined ? { retiringPrincipal } : {}),
      ...(constraints !== undefined ? { constraints } : {}),
      ...(name !== undefined ? { name } : {}),
      grantTokens: input.stringList('GrantTokens', GRANT_TOKENS_RULE),
      dryRun: input.boolean('DryRun'),
    };
  },
  async run(ctx, req) {
    const tenant = ctx.caller.tenant;
    const key = await resolveKeyIdOnly(ctx, req.keyId, false);
    const { grant: parent } = await authorizeKey(ctx, key);
    requireNotPendingDeletion(key, ctx.services.keyring.keys.arn(tenant, key.keyId));
    if (req.constraints !== undefined && key.keySpec !== 'SYMMETRIC_DEFAULT') {
      throw new KeywardError('ValidationException', 'Encryption context grant constraints apply only to symmetric encryption keys: operations with asymmetric and HMAC keys take no encryption context.');
    }
    if (parent !== undefined) {
      const wider = req.operations.filter((op) => !parent.operations.includes(op));
      if (wider.length > 0 || !constraintsWithin(req.constraints, parent.constraints)) {
        throw new KeywardError('AccessDeniedException', `User: ${principalArn(ctx.caller)} is not authorized to perform: kms:CreateGrant with ${wider.length > 0 ? `operations ${wider.join(', ')}` : 'weaker constraints'} than the grant that allows it.`);
      }
    }
    dryRun(req.dryRun);
    const grant = await ctx.services.keyring.grants.create(tenant, {
      keyId: key.keyId,
      granteePrincipal: req.granteePrincipal,
      operations: req.operations,
      issuer: principalArn(ctx.caller),
      createdAt: ctx.services.clock().toISOString(),
      ...(req.retiringPrincipal !== undefined ? { retiringPrincipal: req.retiringPrincipal } : {}),
      ...(req.constraints !== undefined ? { constraints: req.constraints } : {}),
      ...(req.name !== undefined ? { name: req.name } : {}),
    });
    return { GrantToken: grantToken(grant), GrantId: grant.grantId };
  },
});
