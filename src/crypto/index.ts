export * from './aead.js';
export * from './hkdf.js';
export * from './random.js';
export * from './compare.js';
export * from './zeroize.js';
export * from './hash.js';
