import { decodeMarker, pageResult, readPage } from './common/pagination.js';
import { grantEntry, readGrantId, readPrincipal, GRANT_TOKENS_RULE } from './common/grants.js';
import { readKeyId, resolveKeyIdOnly } from './common/resolve-key.js';
import { defineOperation } from './context.js';

/** The grants of a key, optionally one grant id or one grantee (AWS: Limit 1-100, default 50). */
export const listGrants = defineOperation({
  name: 'ListGrants',
  namespace: 'TrentService',
  plane: 'data',
  parse: (input) => ({
    keyId: readKeyId(input),
    ...readPage(input, 100, 50),
    grantId: readGrantId(input, false),
    granteePrincipal: readPrincipal(input, 'GranteePrincipal', false),
    grantTokens: input.stringList('GrantTokens', GRANT_TOKENS_RULE),
  }),
  async run(ctx, req) {
    const tenant = ctx.caller.tenant;
    const key = await resolveKeyIdOnly(ctx, req.keyId);
    const scope = `ListGrants/${key.keyId}`;
    const after = decodeMarker(scope, req.marker);
    const all = [...await ctx.services.keyring.grants.forKey(tenant, key.keyId)]
      .filter((g) => (req.grantId === undefined || g.grantId === req.grantId) && (req.granteePrincipal === undefined || g.granteePrincipal === req.granteePrincipal))
      .sort((a, b) => (a.grantId < b.grantId ? -1 : a.grantId > b.grantId ? 1 : 0))
      .filter((g) => after === undefined || g.grantId > after);
    const page = all.slice(0, req.limit);
    const next = all.length > req.limit ? page[page.length - 1]?.grantId : undefined;
    return pageResult('Grants', page.map((g) => grantEntry(ctx, tenant, g)), scope, next);
  },
});
