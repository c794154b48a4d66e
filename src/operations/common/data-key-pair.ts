import { KeywardError } from '../../errors/index.js';
import { zeroize } from '../../crypto/index.js';
import { DATA_KEY_PAIR_SPECS, isSupportedDataKeyPairSpec, newMaterial, publicKeyDer, type DataKeyPairSpec, type SupportedKeySpec } from '../../keyring/index.js';
import type { CallerContext } from '../context.js';
import { ENCRYPTION_CONTEXT_RULE, encryptUnder } from './ciphertext.js';
import { dataKeyTarget } from './data-key.js';
import { dryRun } from './dry-run.js';
import type { Input } from './input.js';
import { readKeyId } from './resolve-key.js';

async function requirePublicKey(spec: DataKeyPairSpec & SupportedKeySpec, privateKey: Buffer): Promise<Buffer> {
  const der = await publicKeyDer(spec, privateKey);
  if (der === undefined) throw new KeywardError('KMSInternalException', `no public key for ${spec}`);
  return der;
}

export function readDataKeyPairRequest(input: Input) {
  const spec = input.requiredOneOf('KeyPairSpec', DATA_KEY_PAIR_SPECS);
  if (input.has('Recipient')) throw new KeywardError('UnsupportedOperationException', 'Recipient (Nitro Enclaves attestation) is not supported by Keyward.');
  return {
    keyId: readKeyId(input),
    spec,
    context: input.stringMap('EncryptionContext', ENCRYPTION_CONTEXT_RULE),
    grantTokens: input.stringList('GrantTokens', { max: 10, itemMax: 8192 }),
    dryRun: input.boolean('DryRun'),
  };
}

export interface DataKeyPair {
  readonly arn: string;
  readonly spec: DataKeyPairSpec;
  /** PKCS#8 DER; the caller owns it and must zero it. */
  readonly privateKey: Buffer;
  readonly privateKeyCiphertext: Buffer;
  readonly publicKey: Buffer;
}

/** A new key pair whose private key is encrypted under a symmetric key (GenerateDataKeyPair*). */
export async function makeDataKeyPair(ctx: CallerContext, req: ReturnType<typeof readDataKeyPairRequest>, operation: string): Promise<DataKeyPair> {
  const { key, arn } = await dataKeyTarget(ctx, req.keyId, operation, req.context);
  if (!isSupportedDataKeyPairSpec(req.spec)) throw new KeywardError('UnsupportedOperationException', `KeyPairSpec ${req.spec} is not supported by Keyward.`);
  dryRun(req.dryRun);
  const privateKey = await newMaterial(req.spec);
  try {
    const privateKeyCiphertext = await encryptUnder(ctx, key, privateKey, req.context);
    return { arn, spec: req.spec, privateKey, privateKeyCiphertext, publicKey: await requirePublicKey(req.spec, privateKey) };
  } catch (e) {
    zeroize(privateKey);
    throw e;
  }
}
