export * from './record.js';
export * from './audit-keys.js';
export * from './audit-log.js';
export * from './layout.js';
export * from './verify.js';
export * from './store-reader.js';
export * from './file-sink.js';
export * from './retention.js';
