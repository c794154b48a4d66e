import { defineOperation } from './context.js';

/** Health never waits on the store longer than this (it answers from what the node knows). */
export const HEALTH_STORE_BUDGET_MS = 500;

/**
 * Liveness and readiness for load balancers (the HTTP adapter maps sealed, draining or an
 * unreachable store to 503, uninitialised to 501). Answered from state the node already has: the
 * store's own view of whether it answers, and the seal state; the store is read (within
 * HEALTH_STORE_BUDGET_MS) only before the node knows the installation exists.
 */
export const health = defineOperation({
  name: 'Health',
  namespace: 'Keyward',
  plane: 'public',
  whileSealed: true,
  unaudited: true,
  parse: () => ({}),
  async run(ctx) {
    const { services } = ctx;
    const store = services.storeHealth?.() ?? { reachable: true };
    const known = await services.seal.knownStatus(HEALTH_STORE_BUDGET_MS);
    const reachable = store.reachable && known !== undefined;
    return {
      // unknown (the store did not answer) counts as initialised: 503, not 501, for the balancer
      initialized: known?.initialized ?? true,
      sealed: known?.sealed ?? services.seal.sealed,
      ...(reachable ? {} : { store: 'unreachable' }),
      version: services.version,
      node: services.nodeId,
      server_time_utc: Math.floor(services.clock().getTime() / 1000),
      ...(services.lifecycle?.draining ? { draining: true } : {}),
      // refusing key operations: out of the load balancer until an operator accepts the store
      ...(services.rollback?.state.kind === 'detected' ? { rollback_detected: true } : {}),
    };
  },
});
