import { KeywardError } from '../errors/index.js';
import { requireEnabled } from '../keyring/index.js';
import { algorithmFields } from './common/key-metadata.js';
import { keyArnOf, readKeyId, resolveKey } from './common/resolve-key.js';
import { defineOperation } from './context.js';

/** The public key of an asymmetric key as DER SubjectPublicKeyInfo, with what it may be used for. */
export const getPublicKey = defineOperation({
  name: 'GetPublicKey',
  namespace: 'TrentService',
  plane: 'data',
  parse: (input) => ({ keyId: readKeyId(input), grantTokens: input.stringList('GrantTokens', { max: 10, itemMax: 8192 }) }),
  async run(ctx, req) {
    const key = await resolveKey(ctx, req.keyId);
    const arn = keyArnOf(ctx, key);
    requireEnabled(key, arn);
    if (key.publicKey === undefined) {
      throw new KeywardError('UnsupportedOperationException', `${arn} is a ${key.keySpec} key: only asymmetric keys have a public key.`);
    }
    return {
      KeyId: arn,
      PublicKey: Buffer.from(key.publicKey, 'base64'),
      CustomerMasterKeySpec: key.keySpec,
      KeySpec: key.keySpec,
      KeyUsage: key.keyUsage,
      ...algorithmFields(key),
    };
  },
});
