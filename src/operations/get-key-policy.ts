import { defaultPolicy, POLICY_NAME } from '../authz/index.js';
import { readPolicyName } from './common/policy-input.js';
import { readKeyId, resolveKeyIdOnly } from './common/resolve-key.js';
import { defineOperation } from './context.js';

/** The key's policy document as stored (or the default policy of a key that never had one put). */
export const getKeyPolicy = defineOperation({
  name: 'GetKeyPolicy',
  namespace: 'TrentService',
  plane: 'data',
  parse: (input) => ({ keyId: readKeyId(input), policyName: readPolicyName(input) }),
  async run(ctx, req) {
    const key = await resolveKeyIdOnly(ctx, req.keyId);
    return { Policy: key.policy ?? defaultPolicy(ctx.caller.tenant.accountId), PolicyName: POLICY_NAME };
  },
});
