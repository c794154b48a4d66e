import { readVersionRequest, setVersionState } from './common/version-state.js';
import { defineOperation } from './context.js';

/** Keyward extension: a disabled version no longer decrypts until enabled again. */
export const disableKeyVersion = defineOperation({
  name: 'DisableKeyVersion',
  namespace: 'Keyward',
  plane: 'control',
  parse: readVersionRequest,
  run: (ctx, req) => setVersionState(ctx, req, 'Disabled'),
});
