import { authorizeTenant } from '../authz/index.js';
import { decodeMarker, pageResult, readPage } from './common/pagination.js';
import { certificateView } from './common/pki-input.js';
import { defineOperation } from './context.js';

export const listCertificates = defineOperation({
  name: 'ListCertificates',
  namespace: 'Keyward',
  plane: 'control',
  parse: (input) => ({ tenant: input.string('Tenant', { min: 1, max: 63 }), ...readPage(input) }),
  async run(ctx, req) {
    const tenantId = req.tenant ?? ctx.caller.tenant.id;
    authorizeTenant(ctx.caller, tenantId, 'ListCertificates');
    const scope = `ListCertificates/${tenantId}`;
    const page = await ctx.services.pki.list(tenantId, decodeMarker(scope, req.marker), req.limit);
    return pageResult('Certificates', page.certificates.map(certificateView), scope, page.next);
  },
});
