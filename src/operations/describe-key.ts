import { keyMetadata } from './common/key-metadata.js';
import { readKeyId, resolveKey } from './common/resolve-key.js';
import { defineOperation } from './context.js';

export const describeKey = defineOperation({
  name: 'DescribeKey',
  namespace: 'TrentService',
  plane: 'data',
  parse: (input) => ({ keyId: readKeyId(input), grantTokens: input.stringList('GrantTokens', { max: 10 }) }),
  async run(ctx, req) {
    const key = await resolveKey(ctx, req.keyId);
    return { KeyMetadata: keyMetadata(ctx.services.keyring.region, ctx.caller.tenant, key) };
  },
});
