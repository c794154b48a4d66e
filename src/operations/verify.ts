import { KeywardError } from '../errors/index.js';
import { dryRun } from './common/dry-run.js';
import { readSigningRequest, signingKey } from './common/signing.js';
import { defineOperation } from './context.js';

/** Verifies a signature; an invalid or malformed one is KMSInvalidSignatureException, as in AWS. */
export const verify = defineOperation({
  name: 'Verify',
  namespace: 'TrentService',
  plane: 'data',
  parse: (input) => ({ ...readSigningRequest(input), signature: input.requiredBlob('Signature', { min: 1, max: 6144 }) }),
  async run(ctx, req) {
    const k = await signingKey(ctx, req, 'Verify');
    dryRun(req.dryRun);
    if (!k.handle.verify(k.scheme, k.input, req.message, req.signature)) {
      throw new KeywardError('KMSInvalidSignatureException', 'The signature is not valid for this message, key and signing algorithm.');
    }
    return { KeyId: k.arn, SignatureValid: true, SigningAlgorithm: req.algorithm };
  },
});
