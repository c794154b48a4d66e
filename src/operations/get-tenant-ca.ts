import { pem } from '../pki/index.js';
import { caView, readGeneration, readTenant } from './common/pki-input.js';
import { defineOperation } from './context.js';

/** A tenant CA certificate (the active one, or a generation): public (also GET /v1/pki/<tenant>/ca). */
export const getTenantCA = defineOperation({
  name: 'GetTenantCA',
  namespace: 'Keyward',
  plane: 'public',
  parse: (input) => ({ tenant: readTenant(input), generation: readGeneration(input) }),
  async run(ctx, req) {
    const ca = await ctx.services.pki.tenantCa(req.tenant, req.generation);
    return { TenantCA: caView(ca, pem(Buffer.from(ca.certificate, 'base64'), 'CERTIFICATE')), Der: Buffer.from(ca.certificate, 'base64') };
  },
});
