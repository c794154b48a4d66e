import { KMSServiceException } from '@aws-sdk/client-kms';

/** The AWS exception a call fails with (fails the test if it succeeds or throws something else). */
export async function errorOf(p: Promise<unknown>): Promise<KMSServiceException> {
  try {
    await p;
  } catch (e) {
    if (e instanceof KMSServiceException) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

/** Whatever a promise rejects with (fails the test if it resolves). */
export async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a failure');
}
