import { makeDataKeyPair, readDataKeyPairRequest } from './common/data-key-pair.js';
import { defineOperation } from './context.js';

/** A key pair for use outside Keyward: the private key in plaintext (PKCS#8) and encrypted. */
export const generateDataKeyPair = defineOperation({
  name: 'GenerateDataKeyPair',
  namespace: 'TrentService',
  plane: 'data',
  parse: readDataKeyPairRequest,
  async run(ctx, req) {
    const pair = await makeDataKeyPair(ctx, req, 'GenerateDataKeyPair');
    return {
      PrivateKeyCiphertextBlob: pair.privateKeyCiphertext,
      PrivateKeyPlaintext: pair.privateKey,
      PublicKey: pair.publicKey,
      KeyId: pair.arn,
      KeyPairSpec: pair.spec,
    };
  },
});
