import { alreadyExists, createKeyGroup, DEFAULT_KEY_GROUP, findKeyGroup, keyGroupView } from './common/key-group.js';
import { defineOperation } from './context.js';

/**
 * Keyward extension: the default key group (alias/default) of the caller's tenant, created on
 * first use. A data-plane right, as mini-kms's default group is there for every data client;
 * every other group is created by an admin (CreateKeyGroup).
 */
export const provisionDefaultKeyGroup = defineOperation({
  name: 'ProvisionDefaultKeyGroup',
  namespace: 'Keyward',
  plane: 'data',
  parse: () => ({}),
  async run(ctx) {
    const existing = await findKeyGroup(ctx, DEFAULT_KEY_GROUP);
    if (existing !== undefined) return { ...keyGroupView(ctx, DEFAULT_KEY_GROUP, existing), Created: false };
    try {
      return { ...keyGroupView(ctx, DEFAULT_KEY_GROUP, await createKeyGroup(ctx, DEFAULT_KEY_GROUP)), Created: true };
    } catch (e) {
      if (!alreadyExists(e)) throw e;
      // another request created it first
      const key = await findKeyGroup(ctx, DEFAULT_KEY_GROUP);
      if (key === undefined) throw e;
      return { ...keyGroupView(ctx, DEFAULT_KEY_GROUP, key), Created: false };
    }
  },
});
