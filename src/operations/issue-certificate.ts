import { authorizeTenant } from '../authz/index.js';
import { certificateAudit, certificateView, readValidityDays } from './common/pki-input.js';
import { defineOperation } from './context.js';

/**
 * A member certificate (clientAuth; the member, tenant and role in extensions) from the tenant's
 * active CA: for the public key of a PKCS#10 request (preferred: the private key never reaches
 * Keyward), or for a P-256 key pair made here and returned once.
 */
export const issueCertificate = defineOperation({
  name: 'IssueCertificate',
  namespace: 'Keyward',
  plane: 'control',
  parse: (input) => {
    const csr = input.string('Csr', { min: 1, max: 16_384 });
    return {
      tenant: input.string('Tenant', { min: 1, max: 63 }),
      principal: input.requiredString('Principal', { min: 1, max: 64 }),
      role: input.string('Role', { min: 1, max: 64 }) ?? 'user',
      email: input.string('Email', { min: 3, max: 254 }),
      // PEM text, or base64 of the DER
      csr: csr === undefined ? undefined : csr.includes('-----BEGIN') ? Buffer.from(csr, 'latin1') : input.requiredBlob('Csr', { min: 1, max: 12_288 }),
      validityDays: readValidityDays(input),
    };
  },
  async run(ctx, req) {
    const tenantId = req.tenant ?? ctx.caller.tenant.id;
    authorizeTenant(ctx.caller, tenantId, 'IssueCertificate');
    const tenant = await ctx.services.keyring.tenants.require(tenantId);
    const issued = await ctx.services.pki.issue(tenant, {
      principal: req.principal,
      role: req.role,
      ...(req.email !== undefined ? { email: req.email } : {}),
      ...(req.csr !== undefined ? { csr: req.csr } : {}),
      ...(req.validityDays !== undefined ? { validityDays: req.validityDays } : {}),
    });
    ctx.audit.record = certificateAudit(issued.record);
    return {
      Certificate: issued.certificatePem,
      CertificateChain: issued.chainPem,
      CertificateMetadata: certificateView(issued.record),
      SerialNumber: issued.record.serialNumber,
      ...(issued.privateKeyPem !== undefined ? { PrivateKey: issued.privateKeyPem } : {}),
    };
  },
});
