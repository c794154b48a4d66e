import { authorizeTenant } from '../authz/index.js';
import { pem } from '../pki/index.js';
import { caView, readValidityDays } from './common/pki-input.js';
import { defineOperation } from './context.js';

/** A new intermediate for the tenant; the previous one keeps signing CRLs for what it issued. */
export const rotateTenantCA = defineOperation({
  name: 'RotateTenantCA',
  namespace: 'Keyward',
  plane: 'control',
  parse: (input) => ({
    tenant: input.string('Tenant', { min: 1, max: 63 }),
    commonName: input.string('CommonName', { min: 1, max: 64 }),
    validityDays: readValidityDays(input),
  }),
  async run(ctx, req) {
    const tenantId = req.tenant ?? ctx.caller.tenant.id;
    authorizeTenant(ctx.caller, tenantId, 'RotateTenantCA');
    const tenant = await ctx.services.keyring.tenants.require(tenantId);
    const { current, previous } = await ctx.services.pki.rotateTenantCa(tenant, {
      ...(req.commonName !== undefined ? { commonName: req.commonName } : {}),
      ...(req.validityDays !== undefined ? { validityDays: req.validityDays } : {}),
    });
    ctx.audit.record = { 'Certificate.SerialNumber': current.serialNumber, 'Certificate.Subject': current.subject };
    return {
      TenantCA: caView(current, pem(Buffer.from(current.certificate, 'base64'), 'CERTIFICATE')),
      PreviousGeneration: previous.generation,
    };
  },
});
