export * from './codes.js';
export * from './keyward-error.js';
export * from './quote.js';
