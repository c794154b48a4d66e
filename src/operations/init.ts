import { DEFAULT_TENANT } from '../keyring/index.js';
import { checkPassphrase } from '../seal/index.js';
import { defineOperation } from './context.js';

export const INITIAL_ADMIN = 'admin';

/**
 * Creates the installation: root key under the passphrase seal, keyring, the `default` tenant and
 * its first admin, all in one transaction. The admin's credentials are returned once.
 */
export const init = defineOperation({
  name: 'Init',
  namespace: 'Keyward',
  plane: 'public',
  whileSealed: true,
  expensive: true,
  parse: (input) => {
    const passphrase = input.requiredString('passphrase', { min: 1, max: 1024 });
    checkPassphrase(passphrase);
    return { passphrase };
  },
  async run(ctx, req) {
    const { keyring, seal } = ctx.services;
    let issued: Awaited<ReturnType<typeof keyring.principals.create>> | undefined;
    let accountId = '';
    await seal.initialize({ passphrase: req.passphrase }, async (tx) => {
      const tenant = await keyring.tenants.create(DEFAULT_TENANT, tx);
      accountId = tenant.accountId;
      issued = await keyring.principals.create(tenant, INITIAL_ADMIN, 'admin', tx);
    });
    if (issued === undefined) throw new Error('init did not create the admin principal');
    return {
      tenant: DEFAULT_TENANT,
      account_id: accountId,
      principal: INITIAL_ADMIN,
      role: 'admin',
      credentials: {
        access_key_id: issued.credentials.accessKeyId,
        secret_access_key: issued.credentials.secretAccessKey,
        token: issued.credentials.token,
      },
    };
  },
});
