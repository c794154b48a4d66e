/**
 * The access log every transport writes: one line per request, the same fields whatever the
 * transport (HTTP, gRPC, mini-kms's NDJSON socket, the Kubernetes KMS plugin), never a secret:
 * ids, names and codes only (the principal is tenant/name, the key an id or ARN).
 */
export interface AccessLine {
  readonly requestId: string;
  /** The operation's name (a closed set), or the transport's label for what it refused before one. */
  readonly operation: string;
  readonly principal?: string | undefined;
  readonly keyId?: string | undefined;
  /** The transport's own status: the HTTP status, the gRPC status code, mini-kms's `ok` or error code. */
  readonly status: number | string;
  /** `OK` or the error registry's code answered. */
  readonly code: string;
  /** From performance.now() when the request arrived. */
  readonly started: number;
}

/** Writes one line; `quiet` (probes and scrapes, every few seconds) goes below info. */
export type AccessLog = (line: AccessLine, quiet?: boolean) => void;

/** The part of a pino logger the access log needs. */
export interface AccessLogSink {
  info(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

/** The access log of one transport, or undefined when it is switched off (accessLog: false). */
export function accessLogger(log: AccessLogSink, transport: string, enabled = true): AccessLog | undefined {
  if (!enabled) return undefined;
  return (a, quiet = false) => {
    log[quiet ? 'debug' : 'info']({
      requestId: a.requestId, principal: a.principal, operation: a.operation, keyId: a.keyId,
      status: a.status, code: a.code, durationMs: Math.round((performance.now() - a.started) * 10) / 10, transport,
    }, 'request');
  };
}
