import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { BackupWriter, readBackupFile, readSnapshot, redactUrl, StoreNotEmptyError, writeIntoEmpty, type Store } from './storage/index.js';

/**
 * Offline and online maintenance of a store: backups, restores and copies between backends. They
 * move stored bytes only: records stay barrier-encrypted and the seal records travel with them, so
 * the same passphrase (or other seal) unseals the copy. Nothing here needs the store unsealed.
 */

/** A name for a store in reports and backup headers, without credentials. */
export function storeLabel(spec: string): string {
  return /^postgres(ql)?:\/\//.test(spec) ? redactUrl(spec) : spec;
}

/**
 * Writes a consistent snapshot of the store to file (0600), atomically: a temp file renamed at the
 * end. With `keep`, only the entries it accepts (a tenant left out); answers how many were written.
 */
export async function backupStore(store: Store, file: string, source: string, now = new Date(), keep: (key: string) => boolean = () => true): Promise<number> {
  const tmp = `${file}.partial-${process.pid}`;
  const out = createWriteStream(tmp, { mode: 0o600, flags: 'wx' });
  const write = async (s: string) => {
    if (!out.write(s)) await once(out, 'drain');
  };
  const opened = once(out, 'open');
  try {
    await opened;
    const backup = new BackupWriter();
    await write(backup.header(source, now));
    let written = 0;
    await readSnapshot(store, async (e) => {
      if (!keep(e.key)) return;
      written++;
      await write(backup.entry(e.key, e.value));
    });
    await write(backup.end());
    out.end();
    await once(out, 'finish');
    renameSync(tmp, file);
    return written;
  } catch (e) {
    out.destroy();
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Verifies a backup file completely, then writes it into an empty store in one transaction. */
export async function restoreStore(store: Store, file: string): Promise<{ entries: number; source: string; created: string }> {
  const { header, entries } = await readBackupFile(file);
  const count = await writeIntoEmpty(store, entries);
  return { entries: count, source: header.source, created: header.created };
}

/**
 * Copies every entry of one store into another, empty one, streaming: the source's consistent
 * snapshot is read page by page inside the target's one transaction (all or nothing), then the
 * target's count is checked.
 */
export async function migrateStore(from: Store, to: Store): Promise<number> {
  const written = await to.transaction(async (tx) => {
    if ((await tx.list('', { limit: 1 })).entries.length > 0) throw new StoreNotEmptyError(to.kind);
    const count = await readSnapshot(from, async (e) => {
      await tx.put(e.key, e.value, { ifVersion: 0 });
    });
    if (count === 0) throw new Error('the source store is empty: nothing to migrate (wrong --from?)');
    return count;
  });
  const check = await readSnapshot(to, () => undefined);
  if (check !== written) throw new Error(`copied ${written} entries but the target holds ${check}`);
  return written;
}
