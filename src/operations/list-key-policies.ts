import { POLICY_NAME } from '../authz/index.js';
import { decodeMarker, pageResult, readPage } from './common/pagination.js';
import { readKeyId, resolveKeyIdOnly } from './common/resolve-key.js';
import { defineOperation } from './context.js';

/** A key has exactly one policy, `default` (as in AWS). */
export const listKeyPolicies = defineOperation({
  name: 'ListKeyPolicies',
  namespace: 'TrentService',
  plane: 'data',
  parse: (input) => ({ keyId: readKeyId(input), ...readPage(input, 1000, 100) }),
  async run(ctx, req) {
    const key = await resolveKeyIdOnly(ctx, req.keyId);
    decodeMarker(`ListKeyPolicies/${key.keyId}`, req.marker);
    return pageResult('PolicyNames', req.marker === undefined ? [POLICY_NAME] : [], `ListKeyPolicies/${key.keyId}`, undefined);
  },
});
