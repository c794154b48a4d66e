import { authorizeTenant } from '../authz/index.js';
import { pem } from '../pki/index.js';
import { caView, readNewCa } from './common/pki-input.js';
import { defineOperation } from './context.js';

/** The tenant's intermediate CA (P-384, path length 0, the tenant in an extension), signed by the root. */
export const createTenantCA = defineOperation({
  name: 'CreateTenantCA',
  namespace: 'Keyward',
  plane: 'control',
  parse: (input) => ({
    ...readNewCa(input),
    // miniKMS's CreateOrgCA ensures a CA and answers it: the active one when there is one
    returnExisting: input.boolean('ReturnExisting') ?? false,
  }),
  async run(ctx, req) {
    const tenantId = req.tenant ?? ctx.caller.tenant.id;
    authorizeTenant(ctx.caller, tenantId, 'CreateTenantCA');
    const tenant = await ctx.services.keyring.tenants.require(tenantId);
    if (req.returnExisting && (await ctx.services.pki.tenantCas(tenantId)).length > 0) {
      const active = await ctx.services.pki.activeCa(tenantId);
      return { TenantCA: caView(active, pem(Buffer.from(active.certificate, 'base64'), 'CERTIFICATE')), Der: Buffer.from(active.certificate, 'base64') };
    }
    const ca = await ctx.services.pki.createTenantCa(tenant, req.ca);
    ctx.audit.record = { 'Certificate.SerialNumber': ca.serialNumber, 'Certificate.Subject': ca.subject };
    return { TenantCA: caView(ca, pem(Buffer.from(ca.certificate, 'base64'), 'CERTIFICATE')), Der: Buffer.from(ca.certificate, 'base64') };
  },
});
