import { DEFAULT_TENANT } from '../keyring/index.js';
import { checkSpec } from '../seal/index.js';
import { parseSealSpec, secretsView } from './common/seal-spec.js';
import { invalid } from './common/input.js';
import { SecretText } from '../format/index.js';
import { defineOperation } from './context.js';

export const INITIAL_ADMIN = 'admin';

/**
 * Creates the installation: root key under the chosen seal (passphrase by default; shamir,
 * static, pkcs11, transit), keyring, the `default` tenant and its first admin, all in one
 * transaction. The admin's credentials and any shares are returned once and never stored.
 */
export const init = defineOperation({
  name: 'Init',
  namespace: 'Keyward',
  plane: 'public',
  whileSealed: true,
  expensive: true,
  parse: (input) => {
    const spec = parseSealSpec(input);
    if (spec.type === 'passphrase' && spec.passphrase === undefined) throw invalid('passphrase', 'Member must not be null');
    checkSpec(spec);
    return spec;
  },
  async run(ctx, spec) {
    const { keyring, seal } = ctx.services;
    let issued: Awaited<ReturnType<typeof keyring.principals.create>> | undefined;
    let accountId = '';
    const secrets = await seal.initialize({ seal: spec }, async (tx) => {
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
      seal: spec.type,
      credentials: {
        access_key_id: issued.credentials.accessKeyId,
        secret_access_key: new SecretText(issued.credentials.secretAccessKey),
        token: issued.credentials.token,
      },
      ...secretsView(secrets),
    };
  },
});
