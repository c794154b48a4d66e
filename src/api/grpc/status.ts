import { Metadata, status as GrpcStatus, type StatusObject } from '@grpc/grpc-js';
import { ERROR_CODES, isKeywardError, KeywardError, type ErrorCode } from '../../errors/index.js';

/** Trailers every failed call carries: the registry code (to match on) and the request id. */
export const ERROR_CODE_TRAILER = 'keyward-error-code';
export const REQUEST_ID_TRAILER = 'keyward-request-id';

export interface GrpcError extends StatusObject {
  /** The registry code answered. */
  readonly errorCode: ErrorCode;
  /** Whether the detail belongs in the server's log (unexpected errors, server-side faults). */
  readonly internal: boolean;
}

/**
 * Maps any thrown value to a gRPC status through the one error registry: the status is the
 * code's gRPC column, the message starts with the code. Unknown errors become
 * KMSInternalException with only the request id; their detail is for the log.
 */
export function grpcError(e: unknown, requestId: string): GrpcError {
  const known = isKeywardError(e);
  const err = known ? e : new KeywardError('KMSInternalException', `An internal error occurred. Request id: ${requestId}`);
  const spec = ERROR_CODES[err.code];
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_TRAILER, err.code);
  metadata.set(REQUEST_ID_TRAILER, requestId);
  return {
    code: GrpcStatus[spec.grpc],
    details: `${err.code}: ${err.message}`,
    metadata,
    errorCode: err.code,
    internal: !known || (spec.fault === 'server' && err.code !== 'SealedException' && err.code !== 'NotInitializedException'),
  };
}
