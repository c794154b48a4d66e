import { KeywardError } from '../errors/index.js';
import {
  allowsUsage, CUSTOMER_MASTER_KEY_SPECS, isSupportedKeySpec, KEY_SPECS, KEY_USAGES, ORIGINS,
} from '../keyring/index.js';
import { checkNewPolicy } from './common/key-access.js';
import { keyMetadata } from './common/key-metadata.js';
import { readPolicy } from './common/policy-input.js';
import { checkTagCount, readTags } from './common/tags.js';
import { defineOperation } from './context.js';

const unsupported = (what: string) => new KeywardError('UnsupportedOperationException', what);

export const createKey = defineOperation({
  name: 'CreateKey',
  namespace: 'TrentService',
  plane: 'control',
  parse: (input) => {
    const keySpec = input.oneOf('KeySpec', KEY_SPECS);
    const legacySpec = input.oneOf('CustomerMasterKeySpec', CUSTOMER_MASTER_KEY_SPECS);
    if (keySpec !== undefined && legacySpec !== undefined) {
      throw new KeywardError('ValidationException', 'You cannot specify KeySpec and CustomerMasterKeySpec in the same request; CustomerMasterKeySpec is deprecated, use KeySpec.');
    }
    const spec = keySpec ?? legacySpec ?? 'SYMMETRIC_DEFAULT';
    const usage = input.oneOf('KeyUsage', KEY_USAGES) ?? 'ENCRYPT_DECRYPT';
    const origin = input.oneOf('Origin', ORIGINS) ?? 'AWS_KMS';
    const policy = readPolicy(input, false);
    if (!isSupportedKeySpec(spec)) throw unsupported(`KeySpec ${spec} is not supported by Keyward.`);
    if (usage === 'ENCAPSULATE_DECAPSULATE') throw unsupported(`KeyUsage ${usage} is not supported by Keyward.`);
    if (!allowsUsage(spec, usage)) throw new KeywardError('ValidationException', `KeyUsage ${usage} is not compatible with KeySpec ${spec}.`);
    if (origin !== 'AWS_KMS' && origin !== 'EXTERNAL') throw unsupported(`Origin ${origin} is not supported: Keyward generates key material itself or imports it (EXTERNAL).`);
    if (input.boolean('MultiRegion') === true) throw unsupported('Multi-Region keys are not supported.');
    if (input.has('CustomKeyStoreId') || input.has('XksKeyId')) throw unsupported('Custom key stores are not supported.');
    const bypassLockoutCheck = input.boolean('BypassPolicyLockoutSafetyCheck') ?? false;
    const tags = readTags(input, 'Tags') ?? {};
    checkTagCount(tags);
    return { description: input.string('Description', { max: 8192 }) ?? '', tags, keySpec: spec, keyUsage: usage, origin, ...(policy !== undefined ? { policy } : {}), bypassLockoutCheck };
  },
  async run(ctx, req) {
    const tenant = ctx.caller.tenant;
    const { bypassLockoutCheck, ...newKey } = req;
    if (newKey.policy !== undefined) checkNewPolicy(ctx.caller, newKey.policy, bypassLockoutCheck);
    const key = await ctx.services.keyring.keys.create(tenant, newKey);
    return { KeyMetadata: keyMetadata(ctx.services.keyring.region, tenant, key) };
  },
});
