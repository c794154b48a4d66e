import { Server, type ServiceDefinition } from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import type { Logger } from 'pino';
import { accessLogger, auditServed, type Services } from '../../operations/index.js';
import type { ListenerIdentity } from './credentials.js';
import { answerUnknownMethods, edgeInterceptor } from './edge.js';
import { healthService } from './health.js';
import { keywardService } from './keyward-services.js';
import { miniKmsAuditService, miniKmsKmsService } from './minikms-services.js';
import { MINIKMS_PKI_SERVICE, minikmsPkiService } from './minikms-pki.js';
import { HEALTH_PROTO, loadProtos } from './protos.js';
import { requestMeta } from './request-meta.js';
import { MessageShapes } from './shapes.js';
import { wipingAfterSerialize, type GrpcEnv, type Implementation } from './unary.js';

/** Keyward's own services. */
export const KEYWARD_SERVICES = ['keyward.v1.Kms', 'keyward.v1.Keys', 'keyward.v1.Scopes', 'keyward.v1.Audit', 'keyward.v1.Pki'] as const;
/** miniKMS's published services (package minikms.v1). */
export const MINIKMS_SERVICES = ['minikms.v1.KMSService', 'minikms.v1.AuditService', 'minikms.v1.PKIService'] as const;

const PROTO_FILES = [
  'keyward/v1/kms.proto', 'keyward/v1/keys.proto', 'keyward/v1/scopes.proto', 'keyward/v1/audit.proto', 'keyward/v1/pki.proto',
  'minikms/v1/kms.proto', 'minikms/v1/audit.proto', 'minikms/v1/pki.proto', HEALTH_PROTO,
];

export interface GrpcServerOptions {
  readonly services: Services;
  readonly log: Logger;
  /** Largest request message accepted, in bytes. */
  readonly maxMessageBytes: number;
  /** A connection without calls for this long is closed (as HTTP keep-alive connections are). */
  readonly idleTimeoutMs?: number;
  readonly listener?: ListenerIdentity;
  /** The server listens on a Unix socket (no peer addresses). */
  readonly unixSocket?: boolean;
  /** One info line per call, as the HTTP access log (default on). */
  readonly accessLog?: boolean;
}

let loaded: PackageDefinition | undefined;

/** The protos, loaded once per process. */
export function grpcPackage(): PackageDefinition {
  loaded ??= loadProtos(PROTO_FILES);
  return loaded;
}

/**
 * The gRPC transport: Keyward's services, health and server reflection on one grpc-js server.
 * Like the HTTP transport it only translates; every decision is in operations/.
 */
export function buildGrpcServer(options: GrpcServerOptions): Server {
  const env: GrpcEnv = {
    services: options.services, log: options.log, listener: options.listener ?? {}, unixSocket: options.unixSocket ?? false,
    access: accessLogger(options.log, 'grpc', options.accessLog !== false),
  };
  const pkg = grpcPackage();
  const server = new Server({
    'grpc.max_receive_message_length': options.maxMessageBytes,
    // a bound on what one connection may have in flight (unauthenticated callers included);
    // grpc-js also caps each connection's buffered memory (grpc-node.max_session_memory, 10 MB)
    'grpc.max_concurrent_streams': 1000,
    // channelz (call counters and traces per call) is not served here: it costs every call for nothing
    'grpc.enable_channelz': 0,
    ...(options.idleTimeoutMs !== undefined ? { 'grpc.max_connection_idle_ms': options.idleTimeoutMs } : {}),
    interceptors: [edgeInterceptor(env, options.maxMessageBytes)],
  });
  const shapes = new MessageShapes(pkg);
  const offered: string[] = [];
  const add = (name: string, impl: Implementation) => {
    server.addService(wipingAfterSerialize(pkg[name] as ServiceDefinition), impl);
    offered.push(name);
  };
  for (const name of KEYWARD_SERVICES) add(name, keywardService(env, shapes, pkg[name] as ServiceDefinition));
  add('minikms.v1.KMSService', miniKmsKmsService(env));
  add('minikms.v1.AuditService', miniKmsAuditService(env));
  add(MINIKMS_PKI_SERVICE, minikmsPkiService(env));
  // "minikms" is the name miniKMS's own server reports its health under
  add('grpc.health.v1.Health', healthService(env, [...KEYWARD_SERVICES, ...MINIKMS_SERVICES, 'minikms']));
  addReflection(server, env, pkg);
  offered.push('grpc.reflection.v1.ServerReflection');
  answerUnknownMethods(server, env, offered);
  return server;
}

/** Server reflection (grpcurl list/describe), each reflection stream audited when it opens. */
function addReflection(server: Server, env: GrpcEnv, pkg: PackageDefinition): void {
  const reflection = new ReflectionService(pkg as ConstructorParameters<typeof ReflectionService>[0]);
  reflection.addToServer({
    addService: (definition, impl) => {
      const audited: Implementation = {};
      for (const [name, handler] of Object.entries(impl)) {
        audited[name] = ((call: { getPeer(): string }) => {
          const meta = requestMeta(call.getPeer(), env.unixSocket);
          auditServed(env.services, meta, 'ServerReflectionInfo').then(
            () => (handler as (c: unknown) => void)(call),
            (e: unknown) => (call as unknown as { emit(ev: string, s: unknown): void }).emit('error', { code: 14, details: `AuditUnavailableException: ${(e as Error).message}` }),
          );
        }) as Implementation[string];
      }
      server.addService(definition, audited);
    },
  });
}
