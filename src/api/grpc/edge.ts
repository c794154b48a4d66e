import { status as GrpcStatus, type Metadata, type Server, type ServerInterceptingCall, type ServerInterceptor } from '@grpc/grpc-js';
import { KeywardError, quote } from '../../errors/index.js';
import { auditRejected, unknownTargetFields } from '../../operations/index.js';
import { requestMeta } from './request-meta.js';
import { ERROR_CODE_TRAILER } from './status.js';
import { failure, logAccess, type GrpcEnv } from './unary.js';

/**
 * grpc-js answers a few requests itself, before any handler runs: an unknown method, a message
 * over the size limit, bytes that are not the method's protobuf message. Here those answers get
 * the registry's code in the message (and the keyward-error-code trailer) and an audit record,
 * like every request a handler answers.
 */
export function edgeInterceptor(env: GrpcEnv, maxMessageBytes: number): ServerInterceptor {
  return (method, call) => {
    const started = performance.now();
    const send = call.sendStatus.bind(call);
    // grpc-js sends its own refusals through the innermost call: translate them there. The call
    // itself is returned (no intercepting layer per call, whose listeners every message and event
    // would pass through); what a handler answers already carries the registry's trailer.
    call.sendStatus = (status) => {
      const error = status.code === GrpcStatus.OK || fromKeyward(status) ? undefined : frameworkRefusal(status, maxMessageBytes);
      if (error === undefined) {
        send(status);
        return;
      }
      const meta = requestMeta(call.getPeer(), env.unixSocket);
      const operation = operationOf(method.path);
      // answered at once (grpc-js goes on reading the stream); the refusal is recorded meanwhile
      const s = failure(env, error, meta.requestId, operation);
      send(s);
      logAccess(env, meta, operation, started, s.code, s.errorCode);
      void auditRejected(env.services, meta, operation, error);
    };
    // grpc-js chains interceptors by what they return; its type names the class, the base call is as good
    return call as unknown as ServerInterceptingCall;
  };
}

/** A status Keyward made (a handler's failure): it names its registry code in a trailer. */
function fromKeyward(status: { readonly metadata?: Metadata | null | undefined }): boolean {
  return status.metadata != null && status.metadata.get(ERROR_CODE_TRAILER).length > 0;
}

/** The registry error for a refusal grpc-js made itself, or undefined to pass it on unchanged. */
function frameworkRefusal(status: { readonly code: number; readonly details?: string | undefined }, maxMessageBytes: number): KeywardError | undefined {
  const details = status.details ?? '';
  if (status.code === GrpcStatus.RESOURCE_EXHAUSTED && /larger than/.test(details)) {
    return new KeywardError('RequestEntityTooLargeException', `The request message is larger than this server accepts (${maxMessageBytes} bytes, grpcMaxMessageBytes).`);
  }
  if (status.code === GrpcStatus.INTERNAL && /deserializing request|decompress/i.test(details)) {
    return new KeywardError('SerializationException', 'The request is not a valid protobuf message of the method\'s request type.');
  }
  if (status.code === GrpcStatus.UNIMPLEMENTED && /compressed with unsupported encoding/.test(details)) {
    return new KeywardError('SerializationException', 'The request message is compressed with an encoding this server does not support (use identity, gzip or deflate).');
  }
  return undefined;
}

/** `/keyward.v1.Kms/Encrypt` -> `Encrypt` (the operation's name, as the HTTP transport records it). */
export function operationOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1).slice(0, 128) || '(no method)';
}

/**
 * Unknown methods: grpc-js looks handlers up by path and answers a miss itself. Keyward answers
 * it instead (UnknownOperationException, audited), through the one lookup grpc-js has for it.
 */
export function answerUnknownMethods(server: Server, env: GrpcEnv, offered: readonly string[]): void {
  const internals = server as unknown as { _retrieveHandler?: (path: string) => unknown };
  const lookup = internals._retrieveHandler?.bind(server);
  if (lookup === undefined) {
    env.log.warn('this grpc-js version has no handler lookup to extend; unknown methods get grpc-js\'s own UNIMPLEMENTED answer');
    return;
  }
  internals._retrieveHandler = (path: string) => lookup(path) ?? unknownMethodHandler(env, path, offered);
}

function unknownMethodHandler(env: GrpcEnv, path: string, offered: readonly string[]): unknown {
  return {
    type: 'unary',
    path,
    serialize: () => Buffer.alloc(0),
    deserialize: (bytes: Buffer) => bytes,
    func: (call: { getPeer(): string }, callback: (e: unknown) => void) => {
      const started = performance.now();
      const meta = requestMeta(call.getPeer(), env.unixSocket);
      const error = new KeywardError('UnknownOperationException', `Unknown method ${quote(path)}; this server offers ${offered.join(', ')}.`);
      // the method path is the caller's text: recorded under a fixed name, as a digest
      void auditRejected(env.services, meta, 'UnknownOperation', error, undefined, unknownTargetFields(path)).then((e) => {
        const s = failure(env, e, meta.requestId, 'unknown');
        callback(s);
        logAccess(env, meta, 'UnknownOperation', started, s.code, s.errorCode);
      });
    },
  };
}
