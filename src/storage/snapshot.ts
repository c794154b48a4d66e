import { MAX_LIST_LIMIT, type Store, type StoreEntry, type StoreReader } from './store.js';

/** Reads every entry from one consistent view of the store, in key order, page by page. */
export async function readSnapshot(store: Store, onEntry: (entry: StoreEntry) => void | Promise<void>): Promise<number> {
  const run = async (reader: StoreReader) => {
    let count = 0;
    for (let after: string | undefined; ;) {
      const page = await reader.list('', { limit: MAX_LIST_LIMIT, ...(after !== undefined ? { after } : {}) });
      for (const e of page.entries) {
        await onEntry(e);
        count++;
      }
      if (page.next === undefined) return count;
      after = page.next;
    }
  };
  return store.snapshot ? store.snapshot(run) : store.transaction(run);
}

export class StoreNotEmptyError extends Error {
  constructor(readonly kind: string) {
    super(`the target ${kind} store is not empty; restore and migrate write only into an empty store`);
    this.name = 'StoreNotEmptyError';
  }
}

/**
 * Writes entries into an empty store in one transaction: the copy exists completely or not at all.
 * Values are copied byte for byte (records stay barrier-encrypted); versions start over at 1.
 */
export async function writeIntoEmpty(store: Store, entries: AsyncIterable<{ key: string; value: Uint8Array }> | Iterable<{ key: string; value: Uint8Array }>): Promise<number> {
  return store.transaction(async (tx) => {
    if ((await tx.list('', { limit: 1 })).entries.length > 0) throw new StoreNotEmptyError(store.kind);
    let count = 0;
    for await (const e of entries) {
      await tx.put(e.key, e.value, { ifVersion: 0 });
      count++;
    }
    return count;
  });
}
