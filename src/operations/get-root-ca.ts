import { pem } from '../pki/index.js';
import { caView } from './common/pki-input.js';
import { defineOperation } from './context.js';

/** The root CA certificate: public, for relying parties (also GET /v1/pki/root). */
export const getRootCA = defineOperation({
  name: 'GetRootCA',
  namespace: 'Keyward',
  plane: 'public',
  parse: () => ({}),
  async run(ctx) {
    const ca = await ctx.services.pki.requireRoot();
    return { RootCA: caView(ca, pem(Buffer.from(ca.certificate, 'base64'), 'CERTIFICATE')), Der: Buffer.from(ca.certificate, 'base64') };
  },
});
