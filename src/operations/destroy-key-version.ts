import { readVersionRequest, setVersionState } from './common/version-state.js';
import { defineOperation } from './context.js';

/**
 * Keyward extension: deletes one version's material (crypto-shredding). Irreversible: every
 * ciphertext made under that version becomes undecryptable.
 */
export const destroyKeyVersion = defineOperation({
  name: 'DestroyKeyVersion',
  namespace: 'Keyward',
  plane: 'control',
  parse: readVersionRequest,
  run: (ctx, req) => setVersionState(ctx, req, 'Destroyed'),
});
