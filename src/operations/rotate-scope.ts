import { keyArnOf } from './common/resolve-key.js';
import { keyVersionId, provisionScope, readScope } from './common/scope.js';
import { defineOperation } from './context.js';

/**
 * Keyward extension (miniKMS's RotateDataKey): a new version of the scope's key (a control-plane
 * right, as RotateKeyOnDemand); a scope that does not exist yet is created with its first version.
 */
export const rotateScope = defineOperation({
  name: 'RotateScope',
  namespace: 'Keyward',
  plane: 'control',
  parse: (input) => ({ scope: readScope(input) }),
  async run(ctx, req) {
    const { key: found, created } = await provisionScope(ctx, req.scope);
    const key = created ? found : await ctx.services.keyring.keys.rotate(ctx.caller.tenant, found.keyId, 'ON_DEMAND');
    ctx.audit.keyVersion = key.primaryVersion;
    return { ScopeId: req.scope.scopeId, KeyId: keyArnOf(ctx, key), KeyVersionId: keyVersionId(key, key.primaryVersion), Version: key.primaryVersion };
  },
});
