import { keyArnOf } from './common/resolve-key.js';
import { keyVersionId, readScope, requireScope } from './common/scope.js';
import { defineOperation } from './context.js';

/**
 * Keyward extension (miniKMS's GetKeyInfo): the scope's current version, how many encryptions it
 * has made (counted in reserved blocks: exact to within one block per node) and its maximum.
 */
export const describeScope = defineOperation({
  name: 'DescribeScope',
  namespace: 'Keyward',
  plane: 'data',
  parse: (input) => ({ scope: readScope(input) }),
  async run(ctx, req) {
    const key = await requireScope(ctx, req.scope);
    const version = key.primaryVersion;
    const max = key.maxEncryptions ?? 0;
    const count = await ctx.services.keyring.encryptionCounts.count(ctx.caller.tenant, key, version);
    ctx.audit.keyVersion = version;
    return {
      ScopeId: req.scope.scopeId,
      KeyId: keyArnOf(ctx, key),
      KeyVersionId: keyVersionId(key, version),
      Version: version,
      EncryptionCount: count,
      MaxEncryptions: max,
      KeyState: key.keyState,
      // miniKMS's words: active, rotate_pending (the next encryption rotates); else the key's state
      Status: key.keyState !== 'Enabled' ? key.keyState.toLowerCase() : max > 0 && count >= max ? 'rotate_pending' : 'active',
    };
  },
});
