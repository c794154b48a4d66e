import { ChangeListeners } from '../change-listeners.js';
import { Mutex } from '../mutex.js';
import {
  clampLimit, StoreConflictError, type ListOptions, type ListPage, type PutOptions, type Store,
  type StoreChange, type StoreEntry, type StoreWriter,
} from '../store.js';

interface Cell { value: Buffer; version: number }

/** In-memory store for tests and ephemeral servers. Transactions are serialised and buffered. */
export class MemoryStore implements Store {
  readonly kind = 'memory';
  private readonly cells = new Map<string, Cell>();
  private readonly writer = new Mutex();
  private readonly listeners = new ChangeListeners();
  private closed = false;

  async get(key: string): Promise<StoreEntry | undefined> {
    this.checkOpen();
    return entry(key, this.cells.get(key));
  }

  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    this.checkOpen();
    return listFrom(this.cells, prefix, options);
  }

  put(key: string, value: Uint8Array, options?: PutOptions): Promise<number> {
    return this.transaction((tx) => tx.put(key, value, options));
  }

  delete(key: string, options?: PutOptions): Promise<boolean> {
    return this.transaction((tx) => tx.delete(key, options));
  }

  transaction<T>(fn: (tx: StoreWriter) => Promise<T>): Promise<T> {
    return this.writer.run(async () => {
      this.checkOpen();
      const overlay = new Map<string, Cell | null>();
      const view = (key: string): Cell | undefined => {
        const o = overlay.get(key);
        return o === null ? undefined : o ?? this.cells.get(key);
      };
      const tx: StoreWriter = {
        get: async (key) => entry(key, view(key)),
        list: async (prefix, options) => {
          const merged = new Map(this.cells);
          for (const [k, v] of overlay) {
            if (v === null) merged.delete(k);
            else merged.set(k, v);
          }
          return listFrom(merged, prefix, options);
        },
        put: async (key, value, options) => {
          const current = view(key);
          checkVersion(key, current, options);
          const version = (current?.version ?? 0) + 1;
          overlay.set(key, { value: Buffer.from(value), version });
          return version;
        },
        delete: async (key, options) => {
          const current = view(key);
          checkVersion(key, current, options);
          overlay.set(key, null);
          return current !== undefined;
        },
      };
      const result = await fn(tx);
      for (const [k, v] of overlay) {
        if (v === null) this.cells.delete(k);
        else this.cells.set(k, v);
      }
      this.listeners.emit({ keys: [...overlay.keys()] });
      return result;
    });
  }

  watch(listener: (change: StoreChange) => void): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('store is closed');
  }
}

function entry(key: string, cell: Cell | undefined): StoreEntry | undefined {
  return cell === undefined ? undefined : { key, value: Buffer.from(cell.value), version: cell.version };
}

function checkVersion(key: string, current: Cell | undefined, options: PutOptions | undefined): void {
  if (options?.ifVersion === undefined) return;
  if ((current?.version ?? 0) !== options.ifVersion) throw new StoreConflictError(key);
}

function listFrom(cells: Map<string, Cell>, prefix: string, options: ListOptions | undefined): ListPage {
  const limit = clampLimit(options?.limit);
  const after = options?.after;
  const keys = [...cells.keys()].filter((k) => k.startsWith(prefix) && (after === undefined || k > after)).sort();
  const page = keys.slice(0, limit);
  const entries = page.map((k) => entry(k, cells.get(k)) as StoreEntry);
  const last = page[page.length - 1];
  return keys.length > limit && last !== undefined ? { entries, next: last } : { entries };
}
