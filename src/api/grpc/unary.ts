import { Metadata, type handleUnaryCall, type MethodDefinition, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { auditRejected, wipeResult, type AccessLog, type Credentials, type RequestMeta, type Services } from '../../operations/index.js';
import { credentialsOf, type ListenerIdentity } from './credentials.js';
import { directEncoder } from './encoders.js';
import { CLIENT_REQUEST_ID_METADATA, requestMeta } from './request-meta.js';
import { grpcError, REQUEST_ID_TRAILER, type GrpcError } from './status.js';

/** What every handler of one listener shares. */
export interface GrpcEnv {
  readonly services: Services;
  readonly log: Logger;
  readonly listener: ListenerIdentity;
  /** A Unix socket listener (no peer address). */
  readonly unixSocket: boolean;
  /** One line per call (absent: accessLog is off). */
  readonly access?: AccessLog | undefined;
}

/**
 * One unary RPC: the caller's credentials and the request facts from the call; `handle` does
 * the work through invoke (which audits it). A failure before or outside invoke is audited here,
 * and every failure answers with the registry's gRPC status.
 */
export function unaryCall<Req, Res>(
  env: GrpcEnv, operation: string, handle: (request: Req, credentials: Credentials, meta: RequestMeta) => Promise<Res>,
  /** What the caller is told instead of an (already audited) error: a protocol's own flattening (no oracle). */
  answerFor: (e: unknown) => unknown = (e) => e,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const started = performance.now();
    const meta = requestMeta(call.getPeer(), env.unixSocket, call.metadata);
    let credentials: Credentials | undefined;
    const respond = async () => {
      credentials = credentialsOf(call.metadata, env.listener, call.getAuthContext().sslPeerCertificate?.raw);
      const answer = await handle(call.request, credentials, meta);
      // a client that named its request hears the id back (a failure's trailer always carries it)
      callback(null, answer, call.metadata.get(CLIENT_REQUEST_ID_METADATA).length > 0 ? requestIdTrailer(meta.requestId) : undefined);
      logAccess(env, meta, operation, started, 0, 'OK');
    };
    respond().catch(async (e: unknown) => {
      const err = await auditRejected(env.services, meta, operation, e, credentials);
      const s = failure(env, answerFor(err), meta.requestId, operation);
      callback(s);
      logAccess(env, meta, operation, started, s.code, s.errorCode);
    });
  };
}

function requestIdTrailer(requestId: string): Metadata {
  const m = new Metadata();
  m.set(REQUEST_ID_TRAILER, requestId);
  return m;
}

/** The call's access log line (health checks below info: probes come every few seconds). */
export function logAccess(env: Pick<GrpcEnv, 'access'>, meta: RequestMeta, operation: string, started: number, status: number, code: string): void {
  env.access?.({ requestId: meta.requestId, principal: meta.observed?.principal, keyId: meta.observed?.keyId, operation, status, code, started }, operation === 'Health');
}

/** The status a failure answers with; unexpected errors and server-side faults are logged. */
export function failure(env: Pick<GrpcEnv, 'log'>, e: unknown, requestId: string, operation: string): GrpcError {
  const s = grpcError(e, requestId);
  if (s.internal) env.log.error({ err: e, requestId, operation, code: s.errorCode }, 'request failed on the server side');
  return s;
}

/**
 * The service definition with serialisers that zero a response's bytes (plaintexts, data keys)
 * as soon as they are encoded, whenever grpc-js encodes them.
 */
export function wipingAfterSerialize(definition: ServiceDefinition): ServiceDefinition {
  const out: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    const serialize = directEncoder(responseTypeName(method)) ?? method.responseSerialize;
    out[name] = {
      ...method,
      responseSerialize: (value: unknown) => {
        const bytes = serialize(value);
        wipeResult(value);
        return bytes;
      },
    };
  }
  return out as ServiceDefinition;
}

/** `/keyward.v1.Kms/Encrypt` answering `EncryptResponse` -> `keyward.v1.EncryptResponse`. */
function responseTypeName(method: MethodDefinition<unknown, unknown>): string {
  const service = method.path.slice(1, method.path.indexOf('/', 1));
  const name = (method as unknown as { responseType?: { type?: { name?: unknown } } }).responseType?.type?.name;
  return `${service.slice(0, service.lastIndexOf('.'))}.${typeof name === 'string' ? name : ''}`;
}

export type Implementation = UntypedServiceImplementation;
