import { KeywardError } from '../errors/index.js';
import { defineOperation } from './context.js';

/**
 * Makes a new checkpoint signing key version (a random Ed25519 key under the barrier) and retires
 * the current one: its private key is dropped, its public key stays published
 * (ListAuditPublicKeys), so the checkpoints it signed still verify. Every node and worker on the
 * store signs with the new version from its next checkpoint on.
 */
export const rotateAuditCheckpointKey = defineOperation({
  name: 'RotateAuditCheckpointKey',
  namespace: 'Keyward',
  plane: 'system',
  parse: () => ({}),
  async run(ctx) {
    if (!ctx.services.audit.enabled) throw new KeywardError('KMSInvalidStateException', 'The audit log is off (audit: off): there is no checkpoint key to rotate.');
    const made = await ctx.services.audit.rotateCheckpointKey();
    // the record of this request is signed with the new version at once (a state change)
    return {
      Version: made.version,
      Fingerprint: made.fingerprint,
      PublicKey: made.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      PreviousVersion: made.version - 1,
      Created: made.created,
    };
  },
});
