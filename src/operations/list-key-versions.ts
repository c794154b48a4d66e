import { versionsView } from './common/key-metadata.js';
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
      Versions: versionsView(key),
    };
  },
});
