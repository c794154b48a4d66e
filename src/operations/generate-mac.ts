import { hmac } from '../crypto/index.js';
import { dryRun } from './common/dry-run.js';
import { macKey, readMacRequest } from './common/mac.js';
import { defineOperation } from './context.js';

/** HMAC of a message (up to 4096 bytes) with a GENERATE_VERIFY_MAC key. */
export const generateMac = defineOperation({
  name: 'GenerateMac',
  namespace: 'TrentService',
  plane: 'data',
  parse: readMacRequest,
  async run(ctx, req) {
    const k = await macKey(ctx, req, 'GenerateMac');
    dryRun(req.dryRun);
    return { Mac: hmac(k.hash, k.material, req.message), MacAlgorithm: req.algorithm, KeyId: k.arn };
  },
});
