export * from './codes.js';
export * from './keyward-error.js';
