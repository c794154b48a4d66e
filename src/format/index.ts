export * from './encryption-context.js';
export * from './ciphertext-blob.js';
export * from './stored-record.js';
export * from './envelope.js';
export * from './secret-text.js';
