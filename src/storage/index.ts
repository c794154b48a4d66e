export * from './store.js';
export { MemoryStore } from './memory/memory-store.js';
export { SqliteStore, SQLITE_SCHEMA_VERSION } from './sqlite/sqlite-store.js';
export { PostgresStore, POSTGRES_SCHEMA_VERSION, CHANGE_CHANNEL, redactUrl, type PostgresStoreOptions } from './postgres/postgres-store.js';
export { readSnapshot, writeIntoEmpty, StoreNotEmptyError } from './snapshot.js';
export { BackupWriter, readBackupFile, BackupFormatError, BACKUP_FORMAT, BACKUP_VERSION, type BackupHeader } from './backup-file.js';
export { StoreTimings, TIMED_STORE_CALLS, type TimedStoreCall, type StoreTimingListener } from './timed-store.js';
export { countingWrites } from './write-counter.js';
