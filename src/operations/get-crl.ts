import { epochSeconds } from './common/key-metadata.js';
import { readGeneration, readTenant } from './common/pki-input.js';
import { defineOperation } from './context.js';

/**
 * A CRL (DER): of a tenant CA (the active one, or a generation), complete or delta, or of the
 * root when no tenant is named. Public, for relying parties (also GET /v1/pki/<tenant>/crl).
 */
export const getCRL = defineOperation({
  name: 'GetCRL',
  namespace: 'Keyward',
  plane: 'public',
  parse: (input) => ({
    tenant: input.has('Tenant') ? readTenant(input) : undefined,
    generation: readGeneration(input),
    delta: input.boolean('Delta') ?? false,
  }),
  async run(ctx, req) {
    const crl = await ctx.services.pki.crl(req.tenant, {
      delta: req.delta,
      ...(req.generation !== undefined ? { generation: req.generation } : {}),
    });
    return {
      // a copy: transports wipe result buffers once sent, and this one is cached
      Crl: Buffer.from(crl.der),
      CrlNumber: crl.number,
      IsDelta: crl.baseNumber !== undefined,
      ...(crl.baseNumber !== undefined ? { BaseCrlNumber: crl.baseNumber } : {}),
      Generation: crl.generation,
      ThisUpdate: epochSeconds(crl.thisUpdate.toISOString()),
      NextUpdate: epochSeconds(crl.nextUpdate.toISOString()),
    };
  },
});
