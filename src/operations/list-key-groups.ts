import { KEY_GROUP_PREFIX, isKeyGroupAlias, keyGroupView } from './common/key-group.js';
import { decodeMarker, pageResult, readPage } from './common/pagination.js';
import { defineOperation } from './context.js';

/**
 * Keyward extension (mini-kms's ListKeyGroups): the key groups of the caller's tenant (aliases
 * alias/<group> with one segment) with their versions. A control-plane listing, as in mini-kms.
 */
export const listKeyGroups = defineOperation({
  name: 'ListKeyGroups',
  namespace: 'Keyward',
  plane: 'control',
  parse: (input) => readPage(input, 100, 100),
  async run(ctx, req) {
    const { keyring } = ctx.services;
    const tenant = ctx.caller.tenant;
    const scope = 'ListKeyGroups';
    const page = await keyring.aliases.list(tenant, decodeMarker(scope, req.marker), req.limit);
    const groups: Record<string, unknown>[] = [];
    for (const alias of page.aliases) {
      if (!isKeyGroupAlias(alias.aliasName)) continue;
      const key = await keyring.keys.find(tenant, alias.targetKeyId);
      if (key !== undefined) groups.push(keyGroupView(ctx, alias.aliasName.slice(KEY_GROUP_PREFIX.length), key));
    }
    return pageResult('KeyGroups', groups, scope, page.next);
  },
});
