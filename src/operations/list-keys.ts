import { decodeMarker, pageResult, readPage } from './common/pagination.js';
import { defineOperation } from './context.js';

export const listKeys = defineOperation({
  name: 'ListKeys',
  namespace: 'TrentService',
  plane: 'data',
  parse: (input) => readPage(input),
  async run(ctx, req) {
    const { keys } = ctx.services.keyring;
    const tenant = ctx.caller.tenant;
    const page = await keys.list(tenant, decodeMarker('ListKeys', req.marker), req.limit);
    const items = page.keys.map((k) => ({ KeyId: k.keyId, KeyArn: keys.arn(tenant, k.keyId) }));
    return pageResult('Keys', items, 'ListKeys', page.next);
  },
});
