import { authorizeTenant } from '../authz/index.js';
import { requireActiveTenant } from '../keyring/index.js';
import { principalView } from './common/principal-view.js';
import { SecretText } from '../format/index.js';
import { defineOperation } from './context.js';

/** Creates a principal; its credentials are returned once and never again. */
export const createPrincipal = defineOperation({
  name: 'CreatePrincipal',
  namespace: 'Keyward',
  plane: 'control',
  parse: (input) => ({
    name: input.requiredString('Name', { min: 1, max: 64 }),
    role: input.oneOf('Role', ['admin', 'user'] as const) ?? 'user',
    tenant: input.string('Tenant', { min: 1, max: 63 }),
  }),
  async run(ctx, req) {
    const tenantId = req.tenant ?? ctx.caller.tenant.id;
    authorizeTenant(ctx.caller, tenantId, 'CreatePrincipal');
    const { keyring } = ctx.services;
    const tenant = await keyring.tenants.require(tenantId);
    // a system admin adding to another tenant: not to one that is suspended or being deleted
    requireActiveTenant(tenant);
    const { principal, credentials } = await keyring.principals.create(tenant, req.name, req.role);
    return {
      Principal: principalView(principal),
      Credentials: { AccessKeyId: credentials.accessKeyId, SecretAccessKey: new SecretText(credentials.secretAccessKey), Token: credentials.token },
    };
  },
});
