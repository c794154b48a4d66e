export * from './barrier.js';
export type { KeyringRecord, BarrierTerm } from './keyring-record.js';
