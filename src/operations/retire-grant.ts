import { principalArn } from '../authz/index.js';
import { KeywardError } from '../errors/index.js';
import { parseKeyRef, readGrantToken } from '../keyring/index.js';
import { dryRun } from './common/dry-run.js';
import { grantNotFound, readGrantId } from './common/grants.js';
import { policyDecision } from './common/key-access.js';
import { KEY_ID_RULE } from './common/resolve-key.js';
import { defineOperation } from './context.js';

/**
 * Deletes a grant, named by its token or by KeyId and GrantId. Allowed to its retiring principal,
 * to its grantee when the grant includes RetireGrant, and to the account (a principal whose role
 * and the key policy allow kms:RetireGrant).
 */
export const retireGrant = defineOperation({
  name: 'RetireGrant',
  namespace: 'TrentService',
  plane: 'data',
  parse: (input) => {
    const grantToken = input.string('GrantToken', { min: 1, max: 8192 });
    const keyId = input.string('KeyId', KEY_ID_RULE);
    const grantId = readGrantId(input, false);
    if (grantToken === undefined && (keyId === undefined || grantId === undefined)) {
      throw new KeywardError('ValidationException', 'RetireGrant needs a GrantToken, or both KeyId and GrantId.');
    }
    return { grantToken, keyId, grantId, dryRun: input.boolean('DryRun') };
  },
  async run(ctx, req) {
    const { keyring } = ctx.services;
    const tenant = ctx.caller.tenant;
    const named = req.grantToken !== undefined ? readGrantToken(req.grantToken) : undefined;
    let keyId = named?.keyId;
    if (req.keyId !== undefined) {
      const ref = parseKeyRef(req.keyId, keyring.region, tenant);
      if (ref.kind !== 'key') throw new KeywardError('NotFoundException', `Invalid keyId ${req.keyId.slice(0, 256)}`);
      if (keyId !== undefined && keyId !== ref.keyId) throw new KeywardError('InvalidGrantTokenException', 'The grant token names another key than KeyId.');
      keyId = ref.keyId;
    }
    const grantId = req.grantId ?? named?.grantId;
    if (named !== undefined && req.grantId !== undefined && named.grantId !== req.grantId) throw new KeywardError('InvalidGrantIdException', 'The grant token names another grant than GrantId.');
    if (keyId === undefined || grantId === undefined) throw new KeywardError('ValidationException', 'RetireGrant needs a GrantToken, or both KeyId and GrantId.');
    ctx.audit.keyId = keyId;
    const key = await keyring.keys.require(tenant, keyId);
    const grant = await keyring.grants.find(tenant, keyId, grantId);
    if (grant === undefined) throw grantNotFound(grantId);
    const me = principalArn(ctx.caller);
    const allowed = grant.retiringPrincipal === me
      || (grant.granteePrincipal === me && grant.operations.includes('RetireGrant'))
      || policyDecision(ctx.caller, key.policy, ctx.operation.plane, 'RetireGrant', undefined) === 'allow';
    if (!allowed) throw new KeywardError('AccessDeniedException', `User: ${me} is not authorized to perform: kms:RetireGrant on resource: ${keyring.keys.arn(tenant, keyId)}`);
    dryRun(req.dryRun);
    if (!await keyring.grants.delete(tenant, keyId, grantId)) throw grantNotFound(grantId);
    return {};
  },
});
