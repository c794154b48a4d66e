import { requireNotPendingDeletion } from '../keyring/index.js';
import { checkNewPolicy } from './common/key-access.js';
import { readPolicy, readPolicyName } from './common/policy-input.js';
import { readKeyId, resolveKeyIdOnly } from './common/resolve-key.js';
import { defineOperation } from './context.js';

/** Replaces the key's policy: checked against the supported subset and the lockout safety check first. */
export const putKeyPolicy = defineOperation({
  name: 'PutKeyPolicy',
  namespace: 'TrentService',
  plane: 'control',
  parse: (input) => ({
    keyId: readKeyId(input),
    policyName: readPolicyName(input),
    policy: readPolicy(input, true),
    bypassLockoutCheck: input.boolean('BypassPolicyLockoutSafetyCheck') ?? false,
  }),
  async run(ctx, req) {
    const { keys } = ctx.services.keyring;
    const tenant = ctx.caller.tenant;
    const key = await resolveKeyIdOnly(ctx, req.keyId);
    checkNewPolicy(ctx.caller, req.policy, req.bypassLockoutCheck);
    await keys.update(tenant, key.keyId, (k) => {
      requireNotPendingDeletion(k, keys.arn(tenant, k.keyId));
      return { ...k, policy: req.policy };
    });
    return {};
  },
});
