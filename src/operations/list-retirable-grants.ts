import { principalArn } from '../authz/index.js';
import { KeywardError } from '../errors/index.js';
import { grantEntry, readPrincipal } from './common/grants.js';
import { decodeMarker, pageResult, readPage } from './common/pagination.js';
import { defineOperation } from './context.js';

/**
 * Grants of the caller's tenant whose retiring principal is RetiringPrincipal. A principal lists
 * its own; listing another principal's takes the admin role (AWS: an IAM permission).
 */
export const listRetirableGrants = defineOperation({
  name: 'ListRetirableGrants',
  namespace: 'TrentService',
  plane: 'data',
  parse: (input) => ({ retiringPrincipal: readPrincipal(input, 'RetiringPrincipal', true), ...readPage(input, 100, 50) }),
  async run(ctx, req) {
    const tenant = ctx.caller.tenant;
    const self = principalArn(ctx.caller);
    if (req.retiringPrincipal !== self && ctx.caller.principal.role !== 'admin') {
      throw new KeywardError('AccessDeniedException', `User: ${self} is not authorized to perform: kms:ListRetirableGrants for ${req.retiringPrincipal}`);
    }
    const scope = `ListRetirableGrants/${req.retiringPrincipal}`;
    const after = decodeMarker(scope, req.marker);
    const all = (await ctx.services.keyring.grants.retirableBy(tenant, req.retiringPrincipal))
      .map((g) => ({ g, position: `${g.keyId}/${g.grantId}` }))
      .filter((x) => after === undefined || x.position > after)
      .sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0));
    const page = all.slice(0, req.limit);
    const next = all.length > req.limit ? page[page.length - 1]?.position : undefined;
    return pageResult('Grants', page.map((x) => grantEntry(ctx, tenant, x.g)), scope, next);
  },
});
