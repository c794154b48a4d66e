export * from './store.js';
export { MemoryStore } from './memory/memory-store.js';
export { SqliteStore, SQLITE_SCHEMA_VERSION } from './sqlite/sqlite-store.js';
