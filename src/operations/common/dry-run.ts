import { KeywardError } from '../../errors/index.js';

/** Called after every check and before any effect: with DryRun set, report success without acting. */
export function dryRun(flag: boolean | undefined): void {
  if (flag === true) throw new KeywardError('DryRunOperationException', 'The request would have succeeded, but the DryRun flag is set.');
}
