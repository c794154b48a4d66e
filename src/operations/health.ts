import { defineOperation } from './context.js';

/** Liveness and readiness for load balancers (the HTTP adapter maps sealed to 503, uninitialised to 501). */
export const health = defineOperation({
  name: 'Health',
  namespace: 'Keyward',
  plane: 'public',
  whileSealed: true,
  parse: () => ({}),
  async run(ctx) {
    const s = await ctx.services.seal.status();
    return {
      initialized: s.initialized,
      sealed: s.sealed,
      version: ctx.services.version,
      node: ctx.services.nodeId,
      server_time_utc: Math.floor(ctx.services.clock().getTime() / 1000),
      ...(ctx.services.lifecycle?.draining ? { draining: true } : {}),
    };
  },
});
