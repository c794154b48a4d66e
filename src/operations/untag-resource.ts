import { invalid } from './common/input.js';
import { requireNotPendingDeletion } from '../keyring/index.js';
import { readKeyId, resolveKeyIdOnly } from './common/resolve-key.js';
import { defineOperation } from './context.js';

export const untagResource = defineOperation({
  name: 'UntagResource',
  namespace: 'TrentService',
  plane: 'control',
  parse: (input) => {
    const tagKeys = input.stringList('TagKeys', { min: 1, max: 50, itemMax: 128 });
    if (tagKeys === undefined) throw invalid('TagKeys', 'Member must not be null');
    return { keyId: readKeyId(input), tagKeys };
  },
  async run(ctx, req) {
    const { keys } = ctx.services.keyring;
    const tenant = ctx.caller.tenant;
    const key = await resolveKeyIdOnly(ctx, req.keyId);
    await keys.update(tenant, key.keyId, (k) => {
      requireNotPendingDeletion(k, keys.arn(tenant, k.keyId));
      const tags = Object.fromEntries(Object.entries(k.tags).filter(([t]) => !req.tagKeys.includes(t)));
      return { ...k, tags };
    });
    return {};
  },
});
