import { authorizeTenant } from '../authz/index.js';
import { KeywardError } from '../errors/index.js';
import { defineOperation } from './context.js';

export const deletePrincipal = defineOperation({
  name: 'DeletePrincipal',
  namespace: 'Keyward',
  plane: 'control',
  parse: (input) => ({
    name: input.requiredString('Name', { min: 1, max: 64 }),
    tenant: input.string('Tenant', { min: 1, max: 63 }),
  }),
  async run(ctx, req) {
    const tenantId = req.tenant ?? ctx.caller.tenant.id;
    authorizeTenant(ctx.caller, tenantId, 'DeletePrincipal');
    if (tenantId === ctx.caller.principal.tenantId && req.name === ctx.caller.principal.name) {
      throw new KeywardError('ValidationException', 'A principal cannot delete itself; use another admin.');
    }
    await ctx.services.keyring.principals.delete(tenantId, req.name);
    return {};
  },
});
