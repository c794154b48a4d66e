import { readTenant } from './common/pki-input.js';
import { defineOperation } from './context.js';

/** An OCSP responder (RFC 6960) for the tenant's CAs: DER request in, signed DER response out. */
export const respondOCSP = defineOperation({
  name: 'RespondOCSP',
  namespace: 'Keyward',
  plane: 'public',
  parse: (input) => ({ tenant: readTenant(input), request: input.requiredBlob('OcspRequest', { min: 1, max: 4096 }) }),
  async run(ctx, req) {
    return { OcspResponse: await ctx.services.pki.ocsp(req.tenant, req.request) };
  },
});
