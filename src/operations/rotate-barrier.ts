import { sealStatusView } from './common/seal-status.js';
import { defineOperation } from './context.js';

/**
 * Adds a barrier term: new records use it at once; older records are re-wrapped in the
 * background (progress under `barrier.rewrap` in the seal status), then older terms are dropped.
 */
export const rotateBarrier = defineOperation({
  name: 'RotateBarrier',
  namespace: 'Keyward',
  plane: 'system',
  parse: () => ({}),
  async run(ctx) {
    return { ...sealStatusView(ctx.services, await ctx.services.seal.rotateBarrier()), rotated: 'barrier' };
  },
});
