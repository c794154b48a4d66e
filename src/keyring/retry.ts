import { setTimeout as sleep } from 'node:timers/promises';
import { KeywardError } from '../errors/index.js';
import { StoreConflictError } from '../barrier/index.js';

/**
 * Runs a compare-and-set transaction, retrying when another writer (another request, another
 * node) won the race. Every retry re-reads, so the final state is a serial order of the attempts.
 */
export async function withCasRetry<T>(fn: () => Promise<T>, attempts = 12): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof StoreConflictError)) throw e;
      if (i >= attempts) throw new KeywardError('ConflictException', 'A concurrent change to the same resource kept winning; retry the request.');
      await sleep(Math.random() * 5 * i);
    }
  }
}
