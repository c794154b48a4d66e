export * from './planes.js';
export * from './sigv4.js';
