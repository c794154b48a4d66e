export * from './seal-manager.js';
export * from './seal-config.js';
export { DEFAULT_ARGON2, MIN_PASSPHRASE_LENGTH, checkPassphrase, type Argon2Cost } from './passphrase-seal.js';
