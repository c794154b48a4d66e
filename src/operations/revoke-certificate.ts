import { authorizeTenant } from '../authz/index.js';
import { certificateAudit, certificateView, readReason, readSerial } from './common/pki-input.js';
import { defineOperation } from './context.js';

/** Revokes a member certificate (RFC 5280 reason): CRLs, OCSP and mTLS on every node follow. */
export const revokeCertificate = defineOperation({
  name: 'RevokeCertificate',
  namespace: 'Keyward',
  plane: 'control',
  parse: (input) => ({ tenant: input.string('Tenant', { min: 1, max: 63 }), serial: readSerial(input), reason: readReason(input) }),
  async run(ctx, req) {
    const tenantId = req.tenant ?? ctx.caller.tenant.id;
    authorizeTenant(ctx.caller, tenantId, 'RevokeCertificate');
    const tenant = await ctx.services.keyring.tenants.require(tenantId);
    const record = await ctx.services.pki.revoke(tenant, req.serial, req.reason);
    ctx.audit.record = certificateAudit(record);
    return { CertificateMetadata: certificateView(record) };
  },
});
