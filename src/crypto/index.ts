export * from './aead.js';
export * from './hkdf.js';
export * from './random.js';
export * from './compare.js';
export * from './zeroize.js';
export * from './hash.js';
export * from './asymmetric.js';
export * from './key-wrap.js';
export { mlDsaPkcs8, mlDsaSpki, mlDsaPublicKeyOf, type MlDsaSet } from './ml-dsa.js';
