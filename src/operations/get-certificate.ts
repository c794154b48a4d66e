import { authorizeTenant } from '../authz/index.js';
import { pem } from '../pki/index.js';
import { certificateView, readSerial } from './common/pki-input.js';
import { defineOperation } from './context.js';

export const getCertificate = defineOperation({
  name: 'GetCertificate',
  namespace: 'Keyward',
  plane: 'control',
  parse: (input) => ({ tenant: input.string('Tenant', { min: 1, max: 63 }), serial: readSerial(input) }),
  async run(ctx, req) {
    const tenantId = req.tenant ?? ctx.caller.tenant.id;
    authorizeTenant(ctx.caller, tenantId, 'GetCertificate');
    const record = await ctx.services.pki.certificate(tenantId, req.serial);
    return { Certificate: pem(Buffer.from(record.certificate, 'base64'), 'CERTIFICATE'), CertificateMetadata: certificateView(record) };
  },
});
