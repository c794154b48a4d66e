import { createKeyGroup, keyGroupView, readKeyGroup } from './common/key-group.js';
import { defineOperation } from './context.js';

/** Keyward extension (mini-kms's CreateKeyGroup): a new key and its alias alias/<group>, in one transaction. */
export const createKeyGroupOperation = defineOperation({
  name: 'CreateKeyGroup',
  namespace: 'Keyward',
  plane: 'control',
  parse: (input) => ({ group: readKeyGroup(input) }),
  async run(ctx, req) {
    return keyGroupView(ctx, req.group, await createKeyGroup(ctx, req.group));
  },
});
