import type { Store } from './store.js';

/** The store calls that are timed: a closed set, so they can be metric labels. */
export const TIMED_STORE_CALLS = ['get', 'list', 'put', 'delete', 'transaction', 'batchWrite', 'snapshot'] as const;
export type TimedStoreCall = typeof TIMED_STORE_CALLS[number];

export type StoreTimingListener = (call: TimedStoreCall, seconds: number, failed: boolean) => void;

/**
 * Times every top-level call of a store (what a request waits for), for the store latency metric.
 * Listeners are added later (the metrics exist only once the listeners start); without one the
 * cost is a clock read per call.
 */
export class StoreTimings {
  private readonly listeners: StoreTimingListener[] = [];

  onTiming(listener: StoreTimingListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** The same store, every timed call reported to the listeners. */
  wrap(store: Store): Store {
    const timed = new Set<string>(TIMED_STORE_CALLS);
    return new Proxy(store, {
      get: (target, prop, receiver) => {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof prop !== 'string' || !timed.has(prop) || typeof value !== 'function') {
          // methods run on the store itself (private fields), not on the proxy
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        }
        const fn = value as (...a: unknown[]) => Promise<unknown>;
        return (...args: unknown[]) => {
          const started = performance.now();
          const report = (failed: boolean) => {
            const seconds = (performance.now() - started) / 1000;
            for (const l of this.listeners) l(prop as TimedStoreCall, seconds, failed);
          };
          return fn.apply(target, args).then((r) => { report(false); return r; }, (e: unknown) => { report(true); throw e; });
        };
      },
    });
  }
}
