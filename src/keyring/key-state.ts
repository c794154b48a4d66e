import { KeywardError } from '../errors/index.js';
import type { KeyRecord } from './types.js';

/** Refuses a cryptographic operation on a key that is not Enabled, with AWS's exceptions. */
export function requireEnabled(key: KeyRecord, arn: string): void {
  if (key.keyState === 'Disabled') throw new KeywardError('DisabledException', `${arn} is disabled.`);
  if (key.keyState === 'PendingDeletion') throw new KeywardError('KMSInvalidStateException', `${arn} is pending deletion.`);
  if (key.keyState === 'PendingImport') throw new KeywardError('KMSInvalidStateException', `${arn} is pending import.`);
}

/** EnableKey and DisableKey: a key without its imported material has no state to switch (AWS). */
export function requireNotPendingImport(key: KeyRecord, arn: string): void {
  if (key.keyState === 'PendingImport') throw new KeywardError('KMSInvalidStateException', `${arn} is pending import.`);
}

/** Refuses a management change to a key pending deletion (AWS allows only CancelKeyDeletion). */
export function requireNotPendingDeletion(key: KeyRecord, arn: string): void {
  if (key.keyState === 'PendingDeletion') throw new KeywardError('KMSInvalidStateException', `${arn} is pending deletion.`);
}

export function isExpired(key: KeyRecord, now: Date): boolean {
  return key.keyState === 'PendingDeletion' && key.deletionDate !== undefined && Date.parse(key.deletionDate) <= now.getTime();
}
