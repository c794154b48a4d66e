import { principalArn } from '../authz/index.js';
import { defineOperation } from './context.js';

/** Who the credentials belong to (like STS GetCallerIdentity): used by `keyward whoami`. */
export const getCallerIdentity = defineOperation({
  name: 'GetCallerIdentity',
  namespace: 'Keyward',
  plane: 'data',
  parse: () => ({}),
  run: async (ctx) => ({
    Arn: principalArn(ctx.caller),
    Name: ctx.caller.principal.name,
    Tenant: ctx.caller.tenant.id,
    Account: ctx.caller.tenant.accountId,
    Role: ctx.caller.principal.role,
  }),
});
