import { dryRun } from './common/dry-run.js';
import { readSigningRequest, signingKey } from './common/signing.js';
import { defineOperation } from './context.js';

/** Signs a message or digest with an asymmetric SIGN_VERIFY key (ECDSA signatures in DER, as AWS). */
export const sign = defineOperation({
  name: 'Sign',
  namespace: 'TrentService',
  plane: 'data',
  parse: readSigningRequest,
  async run(ctx, req) {
    const k = await signingKey(ctx, req, 'Sign');
    dryRun(req.dryRun);
    return { KeyId: k.arn, Signature: k.handle.sign(k.scheme, k.input, req.message), SigningAlgorithm: req.algorithm };
  },
});
