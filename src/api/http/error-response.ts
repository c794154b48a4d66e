import { ERROR_CODES, isKeywardError, KeywardError, type ErrorCode } from '../../errors/index.js';

export interface ErrorResponse {
  readonly status: number;
  readonly code: ErrorCode;
  readonly body: string;
}

/** Fastify's own errors (before our handler runs) that are the caller's fault. */
const FASTIFY_CLIENT_ERRORS: Record<string, readonly [ErrorCode, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ['RequestEntityTooLargeException', 'The request body is larger than this server accepts.'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['SerializationException', 'The request body could not be read.'],
  FST_ERR_CTP_EMPTY_JSON_BODY: ['SerializationException', 'The request body could not be read.'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ['SerializationException', 'The request body could not be read.'],
  FST_ERR_BAD_URL: ['ValidationException', 'The request path is not a valid URL (bad percent-encoding).'],
};

/**
 * Maps any thrown value to an AWS-shaped error. Unknown errors become KMSInternalException with
 * only the request id in the message; `internal` tells the caller to log the detail (unknown
 * errors and server-side faults such as a record failing its integrity check).
 */
export function errorResponse(e: unknown, requestId: string): ErrorResponse & { internal: boolean } {
  let err: KeywardError;
  let internal = false;
  if (isKeywardError(e)) {
    err = e;
  } else {
    const fastifyCode = (e as { code?: string } | undefined)?.code;
    const mapped = fastifyCode === undefined ? undefined : FASTIFY_CLIENT_ERRORS[fastifyCode];
    if (mapped !== undefined) {
      err = new KeywardError(mapped[0], mapped[1]);
    } else {
      internal = true;
      err = new KeywardError('KMSInternalException', `An internal error occurred. Request id: ${requestId}`);
    }
  }
  const spec = ERROR_CODES[err.code];
  // Server-side faults (integrity failures, an unavailable store) are for the operator's log too.
  if (spec.fault === 'server' && err.code !== 'SealedException' && err.code !== 'NotInitializedException') internal = true;
  return { status: spec.http, code: err.code, body: JSON.stringify({ __type: err.code, message: err.message }), internal };
}
