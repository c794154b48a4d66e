import { isKeywardError } from '../../errors/index.js';
import type { OperationContext } from '../context.js';

/**
 * Runs a check of a caller-given secret (passphrase or shares) under the failed-secret-check
 * limits (see RateLimits.reserveSecretCheck): refused at once while the source's network or the
 * node has used up its failures; a wrong secret keeps its token and is reported (a log line; the
 * request's audit record says UnsealFailedException); anything else gives the token back.
 */
export async function checkingSecret<T>(ctx: OperationContext, operation: string, check: () => Promise<T>): Promise<T> {
  const reservation = ctx.services.rateLimits?.reserveSecretCheck(ctx.meta.sourceAddress, operation, ctx.meta.requestId);
  try {
    const result = await check();
    reservation?.passed();
    return result;
  } catch (e) {
    if (isKeywardError(e) && e.code === 'UnsealFailedException') reservation?.failed();
    else reservation?.passed();
    throw e;
  }
}
