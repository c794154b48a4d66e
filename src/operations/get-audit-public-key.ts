import { KeywardError } from '../errors/index.js';
import { defineOperation } from './context.js';

/** The Ed25519 public key that verifies audit checkpoints (PEM), for offline verification. */
export const getAuditPublicKey = defineOperation({
  name: 'GetAuditPublicKey',
  namespace: 'Keyward',
  plane: 'data',
  parse: () => ({}),
  async run(ctx) {
    const pem = ctx.services.audit.publicKeyPem();
    if (pem === undefined) throw new KeywardError('SealedException', 'Keyward is sealed.');
    return { PublicKey: pem, Chain: ctx.services.audit.chain };
  },
});
