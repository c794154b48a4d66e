import { KeywardError } from '../../errors/index.js';
import type { PrivateKeyHandle, SignatureScheme, SignedInput } from '../../crypto/index.js';
import { HASH_OF, MESSAGE_TYPES, requireEnabled, SIGNING_ALGORITHMS, type KeyRecord, type MessageType, type SigningAlgorithm } from '../../keyring/index.js';
import type { CallerContext } from '../context.js';
import { invalid, type Input } from './input.js';
import { requireAlgorithm, requireUsage } from './key-usage.js';
import { keyArnOf, readKeyId, resolveKey } from './resolve-key.js';
import { requireMaterial } from './material.js';

/** AWS's limit on Sign and Verify messages (larger data is signed as a digest). */
export const MAX_MESSAGE_BYTES = 4096;
const MU_BYTES = 64;

export interface SigningRequest {
  readonly keyId: string;
  readonly message: Buffer;
  readonly messageType: MessageType;
  readonly algorithm: SigningAlgorithm;
  readonly grantTokens: string[] | undefined;
  readonly dryRun: boolean | undefined;
}

export function readSigningRequest(input: Input): SigningRequest {
  return {
    keyId: readKeyId(input),
    message: input.requiredBlob('Message', { min: 1, max: MAX_MESSAGE_BYTES }),
    messageType: input.oneOf('MessageType', MESSAGE_TYPES) ?? 'RAW',
    algorithm: input.requiredOneOf('SigningAlgorithm', SIGNING_ALGORITHMS),
    grantTokens: input.stringList('GrantTokens', { max: 10, itemMax: 8192 }),
    dryRun: input.boolean('DryRun'),
  };
}

function schemeOf(algorithm: SigningAlgorithm): SignatureScheme {
  switch (algorithm) {
    case 'RSASSA_PSS_SHA_256': return { kind: 'rsa-pss', hash: 'sha256' };
    case 'RSASSA_PSS_SHA_384': return { kind: 'rsa-pss', hash: 'sha384' };
    case 'RSASSA_PSS_SHA_512': return { kind: 'rsa-pss', hash: 'sha512' };
    case 'RSASSA_PKCS1_V1_5_SHA_256': return { kind: 'rsa-pkcs1', hash: 'sha256' };
    case 'RSASSA_PKCS1_V1_5_SHA_384': return { kind: 'rsa-pkcs1', hash: 'sha384' };
    case 'RSASSA_PKCS1_V1_5_SHA_512': return { kind: 'rsa-pkcs1', hash: 'sha512' };
    case 'ECDSA_SHA_256': return { kind: 'ecdsa', hash: 'sha256' };
    case 'ECDSA_SHA_384': return { kind: 'ecdsa', hash: 'sha384' };
    case 'ECDSA_SHA_512': return { kind: 'ecdsa', hash: 'sha512' };
    case 'ED25519_SHA_512': return { kind: 'ed25519' };
    case 'ED25519_PH_SHA_512': return { kind: 'ed25519ph' };
    case 'ML_DSA_SHAKE_256': return { kind: 'ml-dsa' };
    case 'SM2DSA': throw new KeywardError('UnsupportedOperationException', 'SM2DSA is not supported by Keyward.');
  }
}

/**
 * What the message is for the algorithm, checked as AWS checks it: a DIGEST has the hash's
 * length, Ed25519 takes RAW and Ed25519ph DIGEST (hashed once more, FIPS 186-5 7.8.1), ML-DSA
 * takes RAW or a 64-byte EXTERNAL_MU and no other algorithm takes EXTERNAL_MU.
 */
function signedInputOf(algorithm: SigningAlgorithm, messageType: MessageType, message: Buffer): SignedInput {
  const refuse = (why: string) => invalid('MessageType', why);
  if (algorithm === 'ML_DSA_SHAKE_256') {
    if (messageType === 'DIGEST') throw refuse('ML_DSA_SHAKE_256 takes MessageType RAW or EXTERNAL_MU, not DIGEST');
    if (messageType === 'EXTERNAL_MU' && message.length !== MU_BYTES) throw invalid('Message', `an EXTERNAL_MU message must be ${MU_BYTES} bytes`);
    return messageType === 'EXTERNAL_MU' ? 'mu' : 'message';
  }
  if (messageType === 'EXTERNAL_MU') throw refuse(`EXTERNAL_MU is only for ML_DSA_SHAKE_256, not ${algorithm}`);
  if (algorithm === 'ED25519_SHA_512' && messageType !== 'RAW') throw refuse('ED25519_SHA_512 requires MessageType RAW');
  if (algorithm === 'ED25519_PH_SHA_512' && messageType !== 'DIGEST') throw refuse('ED25519_PH_SHA_512 requires MessageType DIGEST');
  if (messageType === 'RAW') return 'message';
  const hash = HASH_OF[algorithm as keyof typeof HASH_OF];
  if (message.length !== hash.bytes) throw invalid('Message', `a DIGEST for ${algorithm} must be ${hash.bytes} bytes (${hash.name}), not ${message.length}`);
  return 'digest';
}

export interface SigningKey {
  readonly key: KeyRecord;
  readonly arn: string;
  readonly handle: PrivateKeyHandle;
  readonly scheme: SignatureScheme;
  readonly input: SignedInput;
}

/** Resolves and checks the key (enabled, SIGN_VERIFY, algorithm of its spec, message shape). */
export async function signingKey(ctx: CallerContext, req: SigningRequest, operation: string): Promise<SigningKey> {
  const key = await resolveKey(ctx, req.keyId);
  const arn = keyArnOf(ctx, key);
  requireEnabled(key, arn);
  requireUsage(arn, key, 'SIGN_VERIFY', operation);
  requireAlgorithm(arn, key, 'signing', 'SigningAlgorithm', req.algorithm);
  const input = signedInputOf(req.algorithm, req.messageType, req.message);
  ctx.audit.keyVersion = key.primaryVersion;
  const handle = requireMaterial(key, await ctx.services.keyring.keys.privateKey(ctx.caller.tenant, key, key.primaryVersion));
  return { key, arn, handle, scheme: schemeOf(req.algorithm), input };
}
