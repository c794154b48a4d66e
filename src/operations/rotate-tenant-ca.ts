import { authorizeTenant } from '../authz/index.js';
import { pem } from '../pki/index.js';
import { caView, readNewCa } from './common/pki-input.js';
import { defineOperation } from './context.js';

/** A new intermediate for the tenant; the previous one keeps signing CRLs for what it issued. */
export const rotateTenantCA = defineOperation({
  name: 'RotateTenantCA',
  namespace: 'Keyward',
  plane: 'control',
  parse: readNewCa,
  async run(ctx, req) {
    const tenantId = req.tenant ?? ctx.caller.tenant.id;
    authorizeTenant(ctx.caller, tenantId, 'RotateTenantCA');
    const tenant = await ctx.services.keyring.tenants.require(tenantId);
    const { current, previous } = await ctx.services.pki.rotateTenantCa(tenant, req.ca);
    ctx.audit.record = { 'Certificate.SerialNumber': current.serialNumber, 'Certificate.Subject': current.subject };
    return {
      TenantCA: caView(current, pem(Buffer.from(current.certificate, 'base64'), 'CERTIFICATE')),
      PreviousGeneration: previous.generation,
    };
  },
});
