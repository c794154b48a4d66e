export { buildGrpcServer, grpcPackage, KEYWARD_SERVICES, MINIKMS_SERVICES, type GrpcServerOptions } from './grpc-server.js';
export { ClientCertificateCredentials, listenTcp, listenUnix, prepareSocketDirectory, ListenerError, type TlsFiles } from './listen.js';
export { credentialsOf, parseBoundPrincipal, type ListenerIdentity } from './credentials.js';
export { grpcError, ERROR_CODE_TRAILER, REQUEST_ID_TRAILER, type GrpcError } from './status.js';
export { requestMeta, peerAddress } from './request-meta.js';
export { unaryCall, failure, logAccess, wipingAfterSerialize, type GrpcEnv } from './unary.js';
export { edgeInterceptor, answerUnknownMethods } from './edge.js';
export { loadProtos, PROTO_ROOT, LOADER_OPTIONS } from './protos.js';
export { MessageShapes } from './shapes.js';
