import { epochSeconds } from './common/key-metadata.js';
import { readSerial, readTenant } from './common/pki-input.js';
import { defineOperation } from './context.js';

/** GOOD, REVOKED or UNKNOWN for a serial number of a tenant's CAs: public, like OCSP. */
export const getCertificateStatus = defineOperation({
  name: 'GetCertificateStatus',
  namespace: 'Keyward',
  plane: 'public',
  parse: (input) => ({ tenant: readTenant(input), serial: readSerial(input) }),
  async run(ctx, req) {
    const state = await ctx.services.pki.status(req.tenant, req.serial);
    return {
      SerialNumber: req.serial,
      Status: state.status.toUpperCase(),
      ...(state.status === 'revoked' ? { RevocationDate: epochSeconds(state.revocation.revokedAt), RevocationReason: state.revocation.reason } : {}),
    };
  },
});
