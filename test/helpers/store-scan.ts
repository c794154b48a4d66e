import { AUDIT_PREFIX, CHAIN_INDEX_PREFIX } from '../../src/audit/index.js';
import type { Barrier } from '../../src/barrier/index.js';
import type { Store } from '../../src/storage/index.js';

export interface StoredText {
  readonly path: string;
  /** The record decrypted by the barrier, or its raw bytes (latin1) when it is not a barrier record. */
  readonly text: string;
}

/**
 * Every entry of the store, read straight from the backend (whatever its path layout), except the
 * audit log, which keeps its records by design (they hold no key material).
 */
export async function storeTexts(store: Store, barrier: Barrier): Promise<StoredText[]> {
  const out: StoredText[] = [];
  for (let after: string | undefined; ;) {
    const page = await store.list('', { limit: 1000, ...(after !== undefined ? { after } : {}) });
    for (const e of page.entries) {
      if (e.key.startsWith(AUDIT_PREFIX) || e.key.startsWith(CHAIN_INDEX_PREFIX)) continue;
      let text = e.value.toString('latin1');
      try {
        const opened = await barrier.get(e.key);
        if (opened !== undefined) text = opened.value.toString('utf8');
      } catch {
        // not a barrier record (seal records, the keyring itself): its raw bytes are searched
      }
      out.push({ path: e.key, text });
    }
    if (page.next === undefined) return out;
    after = page.next;
  }
}

/** The entries whose path or content mentions any of `needles` (each with the first one it mentions). */
export function mentioning(entries: readonly StoredText[], needles: readonly string[]): Array<{ path: string; needle: string }> {
  const out: Array<{ path: string; needle: string }> = [];
  for (const e of entries) {
    const needle = needles.find((n) => e.path.includes(n) || e.text.includes(n));
    if (needle !== undefined) out.push({ path: e.path, needle });
  }
  return out;
}
