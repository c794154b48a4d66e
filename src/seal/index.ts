export * from './seal-manager.js';
export * from './seal-config.js';
export type { AutoSealWrapper } from './auto-seal.js';
export { DEFAULT_ARGON2, MIN_PASSPHRASE_LENGTH, checkPassphrase, type Argon2Cost } from './passphrase-seal.js';
export { Pkcs11Seal, type Pkcs11Options } from './pkcs11-seal.js';
export { TransitSeal, type TransitOptions } from './transit-seal.js';
export { parseStaticKey } from './static-seal.js';
export { splitSecret, combineShares, decodeShare, checkShareLayout, MAX_SHARES } from './shamir.js';
export { checkValueOf, matchesCheckValue } from './check-value.js';
