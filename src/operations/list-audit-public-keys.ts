import { KeywardError } from '../errors/index.js';
import { defineOperation } from './context.js';

/**
 * Every checkpoint signing key version's public key (PEM), oldest first: what a verifier needs to
 * check every checkpoint ever signed, whichever version signed it (each checkpoint names its
 * version's fingerprint). Public material, like GetAuditPublicKey.
 */
export const listAuditPublicKeys = defineOperation({
  name: 'ListAuditPublicKeys',
  namespace: 'Keyward',
  plane: 'data',
  parse: () => ({}),
  async run(ctx) {
    const keys = await ctx.services.audit.checkpointKeys();
    if (keys === undefined) throw new KeywardError('SealedException', 'Keyward is sealed.');
    return {
      ActiveVersion: keys.active,
      Keys: keys.versions.map((k) => ({
        Version: k.version,
        Fingerprint: k.fingerprint,
        PublicKey: k.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        Active: k.version === keys.active,
        Created: k.created,
        Retired: k.retired,
      })),
    };
  },
});
