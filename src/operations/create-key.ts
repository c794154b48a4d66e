import { KeywardError } from '../errors/index.js';
import { keyMetadata } from './common/key-metadata.js';
import { checkTagCount, readTags } from './common/tags.js';
import { defineOperation } from './context.js';

const unsupported = (what: string) => new KeywardError('UnsupportedOperationException', what);

export const createKey = defineOperation({
  name: 'CreateKey',
  namespace: 'TrentService',
  plane: 'control',
  parse: (input) => {
    const keyUsage = input.oneOf('KeyUsage', ['ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT']);
    const keySpec = input.string('KeySpec', { min: 1, max: 64 }) ?? input.string('CustomerMasterKeySpec', { min: 1, max: 64 });
    const origin = input.oneOf('Origin', ['AWS_KMS', 'EXTERNAL', 'AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE']);
    const policy = input.string('Policy', { min: 1, max: 32768 });
    if (keyUsage !== undefined && keyUsage !== 'ENCRYPT_DECRYPT') throw unsupported(`KeyUsage ${keyUsage} is not supported yet; Keyward keys are ENCRYPT_DECRYPT.`);
    if (keySpec !== undefined && keySpec !== 'SYMMETRIC_DEFAULT') throw unsupported(`KeySpec ${keySpec} is not supported yet; Keyward keys are SYMMETRIC_DEFAULT.`);
    if (origin !== undefined && origin !== 'AWS_KMS') throw unsupported(`Origin ${origin} is not supported; Keyward generates key material itself.`);
    if (input.boolean('MultiRegion') === true) throw unsupported('Multi-Region keys are not supported.');
    if (input.has('CustomKeyStoreId') || input.has('XksKeyId')) throw unsupported('Custom key stores are not supported.');
    if (policy !== undefined) throw unsupported('Key policies are not supported: Keyward authorises by principal role (admin, user) within a tenant.');
    input.boolean('BypassPolicyLockoutSafetyCheck');
    const tags = readTags(input, 'Tags') ?? {};
    checkTagCount(tags);
    return { description: input.string('Description', { max: 8192 }) ?? '', tags };
  },
  async run(ctx, req) {
    const tenant = ctx.caller.tenant;
    const key = await ctx.services.keyring.keys.create(tenant, req);
    return { KeyMetadata: keyMetadata(ctx.services.keyring.region, tenant, key) };
  },
});
