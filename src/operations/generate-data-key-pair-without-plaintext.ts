import { zeroize } from '../crypto/index.js';
import { makeDataKeyPair, readDataKeyPairRequest } from './common/data-key-pair.js';
import { defineOperation } from './context.js';

/** A key pair whose private key is returned only encrypted (decrypt it later, where it is used). */
export const generateDataKeyPairWithoutPlaintext = defineOperation({
  name: 'GenerateDataKeyPairWithoutPlaintext',
  namespace: 'TrentService',
  plane: 'data',
  parse: readDataKeyPairRequest,
  async run(ctx, req) {
    const pair = await makeDataKeyPair(ctx, req, 'GenerateDataKeyPairWithoutPlaintext');
    zeroize(pair.privateKey);
    return { PrivateKeyCiphertextBlob: pair.privateKeyCiphertext, PublicKey: pair.publicKey, KeyId: pair.arn, KeyPairSpec: pair.spec };
  },
});
