export * from './planes.js';
export * from './sigv4.js';
export * from './policy.js';
export * from './grants.js';
