import { readVersionRequest, setVersionState } from './common/version-state.js';
import { defineOperation } from './context.js';

/** Keyward extension: re-enables a disabled version for decryption. */
export const enableKeyVersion = defineOperation({
  name: 'EnableKeyVersion',
  namespace: 'Keyward',
  plane: 'control',
  parse: readVersionRequest,
  run: (ctx, req) => setVersionState(ctx, req, 'Enabled'),
});
