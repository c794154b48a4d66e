export { MiniKmsListener, type MiniKmsListenerOptions } from './listener.js';
export { MiniKmsHandler } from './handler.js';
