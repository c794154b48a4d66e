import { keyArnOf } from './common/resolve-key.js';
import { keyVersionId, provisionScope, readScope } from './common/scope.js';
import { defineOperation } from './context.js';

/** Keyward extension (miniKMS's CreateDataKey): the scope's key, created if it does not exist yet. */
export const createScope = defineOperation({
  name: 'CreateScope',
  namespace: 'Keyward',
  plane: 'data',
  parse: (input) => ({ scope: readScope(input) }),
  async run(ctx, req) {
    const { key, created } = await provisionScope(ctx, req.scope);
    return {
      ScopeId: req.scope.scopeId, KeyId: keyArnOf(ctx, key), KeyVersionId: keyVersionId(key, key.primaryVersion),
      Version: key.primaryVersion, Created: created,
    };
  },
});
