import type { PutOptions, Store, StoreWriter } from './store.js';

/**
 * The same store, counting this process's writes (put, delete, and those inside transactions):
 * a request that moved the count changed state, so its audit record advances the store epoch.
 * Everything else passes through unchanged.
 */
export function countingWrites(store: Store, onWrite: () => void): Store {
  const writer = <W extends StoreWriter>(w: W): W => new Proxy(w, {
    get(target, prop) {
      if (prop === 'put') {
        return async (key: string, value: Uint8Array, options?: PutOptions) => {
          const v = await target.put(key, value, options);
          onWrite();
          return v;
        };
      }
      if (prop === 'delete') {
        return async (key: string, options?: PutOptions) => {
          const deleted = await target.delete(key, options);
          if (deleted) onWrite();
          return deleted;
        };
      }
      const v: unknown = Reflect.get(target, prop);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const wrapped = writer(store);
  return new Proxy(wrapped, {
    get(target, prop) {
      if (prop === 'transaction') {
        return <T>(fn: (tx: StoreWriter) => Promise<T>) => store.transaction((tx) => fn(writer(tx)));
      }
      if (prop === 'batchWrite' && store.batchWrite !== undefined) {
        return async (ops: Parameters<NonNullable<Store['batchWrite']>>[0]) => {
          const versions = await store.batchWrite!(ops);
          if (ops.length > 0) onWrite();
          return versions;
        };
      }
      return Reflect.get(target, prop) as unknown;
    },
  });
}
