import type { TenantQuotas } from '../keyring/index.js';
import { invalid } from './common/input.js';
import { readTenantId, tenantView } from './common/tenant-view.js';
import { defineOperation } from './context.js';

const MEMBERS = ['MaxKeys', 'MaxPrincipals', 'RequestsPerSecond', 'Burst'] as const;
const FIELDS: Record<(typeof MEMBERS)[number], keyof TenantQuotas> = {
  MaxKeys: 'maxKeys', MaxPrincipals: 'maxPrincipals', RequestsPerSecond: 'requestsPerSecond', Burst: 'burst',
};
const RANGE = { min: 0, max: 1_000_000_000 };

/** Sets a tenant's quotas (0: unlimited); members left out keep their value. */
export const updateTenant = defineOperation({
  name: 'UpdateTenant',
  namespace: 'Keyward',
  plane: 'system',
  parse: (input) => {
    const tenantId = readTenantId(input);
    const q = input.object('Quotas');
    if (q === undefined) throw invalid('Quotas', 'Member must not be null');
    q.onlyMembers(MEMBERS);
    const quotas: Partial<Record<keyof TenantQuotas, number>> = {};
    for (const m of MEMBERS) {
      const v = q.integer(m, RANGE);
      if (v !== undefined) quotas[FIELDS[m]] = v;
    }
    if (Object.keys(quotas).length === 0) throw invalid('Quotas', `Member must set at least one of ${MEMBERS.join(', ')}`);
    return { tenantId, quotas };
  },
  async run(ctx, req) {
    const t = await ctx.services.keyring.tenants.updateQuotas(req.tenantId, req.quotas);
    return { Tenant: await tenantView(ctx, t) };
  },
});
