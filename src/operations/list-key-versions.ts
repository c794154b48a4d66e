import { epochSeconds } from './common/key-metadata.js';
import { keyArnOf, readKeyId, resolveKey } from './common/resolve-key.js';
import { defineOperation } from './context.js';

/** Keyward extension: every version of a key with its state (Enabled, Disabled, Destroyed). */
export const listKeyVersions = defineOperation({
  name: 'ListKeyVersions',
  namespace: 'Keyward',
  plane: 'data',
  parse: (input) => ({ keyId: readKeyId(input) }),
  async run(ctx, req) {
    const key = await resolveKey(ctx, req.keyId);
    return {
      KeyId: keyArnOf(ctx, key),
      PrimaryVersion: key.primaryVersion,
      Versions: key.versions.map((v) => ({
        Version: v.version,
        State: v.state,
        Primary: v.version === key.primaryVersion,
        CreationDate: epochSeconds(v.createdAt),
        RotationType: v.rotationType,
        ...(v.destroyedAt !== undefined ? { DestructionDate: epochSeconds(v.destroyedAt) } : {}),
      })),
    };
  },
});
