import { pem } from '../pki/index.js';
import { caView, readValidityDays } from './common/pki-input.js';
import { defineOperation } from './context.js';

/** Makes the installation's root CA (once): a P-384 key generated and wrapped inside Keyward. */
export const createRootCA = defineOperation({
  name: 'CreateRootCA',
  namespace: 'Keyward',
  plane: 'system',
  parse: (input) => ({
    commonName: input.string('CommonName', { min: 1, max: 64 }),
    validityDays: readValidityDays(input),
  }),
  async run(ctx, req) {
    const ca = await ctx.services.pki.createRoot({
      ...(req.commonName !== undefined ? { commonName: req.commonName } : {}),
      ...(req.validityDays !== undefined ? { validityDays: req.validityDays } : {}),
    });
    ctx.audit.record = { 'Certificate.SerialNumber': ca.serialNumber, 'Certificate.Subject': ca.subject };
    return { RootCA: caView(ca, pem(Buffer.from(ca.certificate, 'base64'), 'CERTIFICATE')) };
  },
});
