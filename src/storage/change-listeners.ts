import type { StoreChange } from './store.js';

/** The watch() bookkeeping every backend shares. A throwing listener never breaks the store. */
export class ChangeListeners {
  private readonly listeners = new Set<(change: StoreChange) => void>();

  add(listener: (change: StoreChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(change: StoreChange): void {
    if ('keys' in change && change.keys.length === 0) return;
    for (const l of this.listeners) {
      try {
        l(change);
      } catch {
        // listeners only invalidate caches; a failure must not fail the committed write
      }
    }
  }

  get size(): number {
    return this.listeners.size;
  }
}
