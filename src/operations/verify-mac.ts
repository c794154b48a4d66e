import { constantTimeEqual, hmac } from '../crypto/index.js';
import { KeywardError } from '../errors/index.js';
import { dryRun } from './common/dry-run.js';
import { macKey, readMacRequest } from './common/mac.js';
import { defineOperation } from './context.js';

/** Compares a MAC in constant time; a mismatch is KMSInvalidMacException, as in AWS. */
export const verifyMac = defineOperation({
  name: 'VerifyMac',
  namespace: 'TrentService',
  plane: 'data',
  parse: (input) => ({ ...readMacRequest(input), mac: input.requiredBlob('Mac', { min: 1, max: 6144 }) }),
  async run(ctx, req) {
    const k = await macKey(ctx, req, 'VerifyMac');
    dryRun(req.dryRun);
    if (!constantTimeEqual(hmac(k.hash, k.material, req.message), req.mac)) {
      throw new KeywardError('KMSInvalidMacException', 'The MAC is not valid for this message, key and MAC algorithm.');
    }
    return { KeyId: k.arn, MacValid: true, MacAlgorithm: req.algorithm };
  },
});
