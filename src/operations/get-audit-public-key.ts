import { KeywardError } from '../errors/index.js';
import { defineOperation } from './context.js';

/**
 * The Ed25519 public key (PEM) of the checkpoint key version that signs now, for offline
 * verification. After a rotation older checkpoints need older versions: ListAuditPublicKeys.
 */
export const getAuditPublicKey = defineOperation({
  name: 'GetAuditPublicKey',
  namespace: 'Keyward',
  plane: 'data',
  parse: () => ({}),
  async run(ctx) {
    const keys = await ctx.services.audit.checkpointKeys();
    const active = keys?.versions.find((k) => k.version === keys.active);
    if (keys === undefined || active === undefined) throw new KeywardError('SealedException', 'Keyward is sealed.');
    return { PublicKey: active.publicKey.export({ type: 'spki', format: 'pem' }).toString(), Chain: ctx.services.audit.chain, KeyVersion: active.version, Fingerprint: active.fingerprint };
  },
});
