import { KeywardError } from '../errors/index.js';
import { familyOf, WRAPPING_ALGORITHMS, WRAPPING_KEY_SPECS } from '../keyring/index.js';
import { epochSeconds } from './common/key-metadata.js';
import { requireImportable } from './common/key-import.js';
import { keyArnOf, readKeyId, resolveKeyNoAlias } from './common/resolve-key.js';
import { defineOperation } from './context.js';

/** An RSA wrapping key and an import token, valid 24 hours, for a key of origin EXTERNAL. */
export const getParametersForImport = defineOperation({
  name: 'GetParametersForImport',
  namespace: 'TrentService',
  plane: 'control',
  parse: (input) => ({
    keyId: readKeyId(input),
    algorithm: input.requiredOneOf('WrappingAlgorithm', WRAPPING_ALGORITHMS),
    wrappingKeySpec: input.requiredOneOf('WrappingKeySpec', WRAPPING_KEY_SPECS),
  }),
  async run(ctx, req) {
    const key = await resolveKeyNoAlias(ctx, 'KeyId', req.keyId);
    const arn = keyArnOf(ctx, key);
    requireImportable(arn, key);
    if (req.algorithm === 'RSAES_PKCS1_V1_5') throw new KeywardError('UnsupportedOperationException', 'The RSAES_PKCS1_V1_5 wrapping algorithm is retired (as in AWS KMS); use RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256.');
    if (req.algorithm === 'SM2PKE' || req.wrappingKeySpec === 'SM2') throw new KeywardError('UnsupportedOperationException', 'SM2 wrapping is not supported by Keyward.');
    if (familyOf(key.keySpec) === 'rsa' && !req.algorithm.startsWith('RSA_AES_KEY_WRAP')) {
      throw new KeywardError('ValidationException', `RSA private keys are too large for ${req.algorithm}: use RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256.`);
    }
    const p = await ctx.services.keyring.imports.issue(ctx.caller.tenant, key.keyId, req.wrappingKeySpec, req.algorithm);
    return { KeyId: arn, ImportToken: p.importToken, PublicKey: p.publicKey, ParametersValidTo: epochSeconds(p.validTo) };
  },
});
