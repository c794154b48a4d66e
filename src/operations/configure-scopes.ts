import { authorizeTenant } from '../authz/index.js';
import { invalid } from './common/input.js';
import { defineOperation } from './context.js';

/**
 * Keyward extension: whether data-plane principals of a tenant may create scopes implicitly (on
 * first use; the default) or only admins may (CreateScope, or any scope operation by an admin).
 */
export const configureScopes = defineOperation({
  name: 'ConfigureScopes',
  namespace: 'Keyward',
  plane: 'control',
  parse: (input) => {
    const implicitCreate = input.boolean('ImplicitCreate');
    if (implicitCreate === undefined) throw invalid('ImplicitCreate', 'Member must not be null');
    return { tenantId: input.string('TenantId', { min: 1, max: 63 }), implicitCreate };
  },
  async run(ctx, req) {
    const tenantId = req.tenantId ?? ctx.caller.tenant.id;
    authorizeTenant(ctx.caller, tenantId, 'ConfigureScopes');
    const t = await ctx.services.keyring.tenants.update(tenantId, (tenant) => ({ ...tenant, scopes: { implicitCreate: req.implicitCreate } }));
    return { TenantId: t.id, ImplicitCreate: t.scopes?.implicitCreate ?? true };
  },
});
