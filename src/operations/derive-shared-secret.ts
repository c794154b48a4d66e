import { KeyFormatError } from '../crypto/index.js';
import { KeywardError } from '../errors/index.js';
import { KEY_AGREEMENT_ALGORITHMS, requireEnabled } from '../keyring/index.js';
import { dryRun } from './common/dry-run.js';
import { invalid } from './common/input.js';
import { requireAlgorithm, requireUsage } from './common/key-usage.js';
import { requireMaterial } from './common/material.js';
import { keyArnOf, readKeyId, resolveKey } from './common/resolve-key.js';
import { defineOperation } from './context.js';

/** ECDH between a KEY_AGREEMENT key's private key and a peer's public key (DER SPKI): the raw secret. */
export const deriveSharedSecret = defineOperation({
  name: 'DeriveSharedSecret',
  namespace: 'TrentService',
  plane: 'data',
  parse: (input) => {
    if (input.has('Recipient')) throw new KeywardError('UnsupportedOperationException', 'Recipient (Nitro Enclaves attestation) is not supported by Keyward.');
    return {
      keyId: readKeyId(input),
      algorithm: input.requiredOneOf('KeyAgreementAlgorithm', KEY_AGREEMENT_ALGORITHMS),
      publicKey: input.requiredBlob('PublicKey', { min: 1, max: 8192 }),
      grantTokens: input.stringList('GrantTokens', { max: 10, itemMax: 8192 }),
      dryRun: input.boolean('DryRun'),
    };
  },
  async run(ctx, req) {
    const key = await resolveKey(ctx, req.keyId);
    const arn = keyArnOf(ctx, key);
    requireEnabled(key, arn);
    requireUsage(arn, key, 'KEY_AGREEMENT', 'DeriveSharedSecret');
    requireAlgorithm(arn, key, 'keyAgreement', 'KeyAgreementAlgorithm', req.algorithm);
    ctx.audit.keyVersion = key.primaryVersion;
    const handle = requireMaterial(key, await ctx.services.keyring.keys.privateKey(ctx.caller.tenant, key, key.primaryVersion));
    let secret: Buffer;
    try {
      secret = handle.deriveSharedSecret(req.publicKey);
    } catch (e) {
      if (e instanceof KeyFormatError) throw invalid('PublicKey', `Member must be a DER-encoded SubjectPublicKeyInfo on the curve of ${key.keySpec}: ${e.message}`);
      throw e;
    }
    if (req.dryRun === true) secret.fill(0);
    dryRun(req.dryRun);
    return { KeyId: arn, SharedSecret: secret, KeyAgreementAlgorithm: req.algorithm, KeyOrigin: key.origin };
  },
});
