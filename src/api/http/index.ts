export { buildHttpApp, type HttpAppOptions } from './app.js';
export { HttpMetrics } from './metrics.js';
