import { invalid } from './common/input.js';
import { requireNotPendingDeletion } from '../keyring/index.js';
import { checkTagCount, readTags } from './common/tags.js';
import { readKeyId, resolveKeyIdOnly } from './common/resolve-key.js';
import { defineOperation } from './context.js';

export const tagResource = defineOperation({
  name: 'TagResource',
  namespace: 'TrentService',
  plane: 'control',
  parse: (input) => {
    const tags = readTags(input, 'Tags');
    if (tags === undefined) throw invalid('Tags', 'Member must not be null');
    return { keyId: readKeyId(input), tags };
  },
  async run(ctx, req) {
    const { keys } = ctx.services.keyring;
    const tenant = ctx.caller.tenant;
    const key = await resolveKeyIdOnly(ctx, req.keyId);
    await keys.update(tenant, key.keyId, (k) => {
      requireNotPendingDeletion(k, keys.arn(tenant, k.keyId));
      const tags = { ...k.tags, ...req.tags };
      checkTagCount(tags);
      return { ...k, tags };
    });
    return {};
  },
});
