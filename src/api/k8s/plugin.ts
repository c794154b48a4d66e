import { Server, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { isKeywardError, KeywardError } from '../../errors/index.js';
import { accessLogger, ciphertextKeyVersion, invoke, operationForTarget, type Credentials, type Operation, type RequestMeta, type Services } from '../../operations/index.js';
import { answerUnknownMethods, edgeInterceptor, listenUnix, loadProtos, logAccess, requestMeta, unaryCall, wipingAfterSerialize, type GrpcEnv } from '../grpc/index.js';

/**
 * The Kubernetes KMS v2 plugin: the upstream v2.KeyManagementService (proto/kubernetes/kms/v2)
 * on a Unix socket, over Keyward's operations. The socket is bound to one principal (its file
 * mode is the credential: the API server sends none) and one key; every call is audited as that
 * principal.
 *  - Encrypt: Encrypt under the key (no encryption context); key_id `<key id>:<version>` names the
 *    version used; one annotation, `key-arn.keyward.io`, the key's ARN.
 *  - Decrypt: Decrypt bound to the key, so a ciphertext of any earlier version decrypts and one of
 *    another key is refused; every failure is the one InvalidCiphertextException (no oracle).
 *  - Status: healthz "ok" only while unsealed and the key is enabled for encryption; key_id
 *    names the current primary version (it changes when the key rotates).
 */
export const K8S_KMS_SERVICE = 'v2.KeyManagementService';
const PROTO = 'kubernetes/kms/v2/api.proto';
export const API_VERSION = 'v2';
/** The annotation Encrypt answers (a fully qualified domain name, as the API server requires). */
export const KEY_ARN_ANNOTATION = 'key-arn.keyward.io';

export interface K8sKmsOptions {
  readonly services: Services;
  readonly log: Logger;
  /** alias/NAME (or a key id or ARN) in the bound principal's tenant. */
  readonly keyId: string;
  readonly principal: { readonly tenantId: string; readonly name: string };
  readonly maxMessageBytes: number;
  readonly idleTimeoutMs?: number;
  /** One info line per call, as the HTTP access log (default on). */
  readonly accessLog?: boolean;
}

type Msg = Record<string, unknown>;

function op(target: string): Operation {
  const found = operationForTarget(target);
  if (found === undefined) throw new Error(`no operation ${target}`);
  return found;
}

/** Codes a decryption answers as InvalidCiphertextException, whatever the key, version or blob. */
const DECRYPTION_CODES = new Set(['InvalidCiphertextException', 'IncorrectKeyException', 'NotFoundException', 'DisabledException', 'KMSInvalidStateException', 'InvalidKeyUsageException']);

/** `arn:...:key/<id>` -> `<id>`. */
const keyIdOf = (arn: unknown): string => {
  const s = String(arn);
  return s.slice(s.lastIndexOf('/') + 1);
};

let loaded: ServiceDefinition | undefined;

function serviceDefinition(): ServiceDefinition {
  loaded ??= loadProtos([PROTO])[K8S_KMS_SERVICE] as ServiceDefinition;
  return loaded;
}

export function k8sKmsService(env: GrpcEnv, options: Pick<K8sKmsOptions, 'keyId'>): UntypedServiceImplementation {
  const encrypt = op('TrentService.Encrypt');
  const decrypt = op('TrentService.Decrypt');
  const describe = op('TrentService.DescribeKey');
  const versions = op('Keyward.ListKeyVersions');
  const call = async (operation: Operation, credentials: Credentials, body: Msg, meta: RequestMeta): Promise<Msg> => await invoke(env.services, operation, credentials, body, meta) as Msg;
  const bound: Credentials = env.listener.boundPrincipal !== undefined ? { kind: 'bound', ...env.listener.boundPrincipal } : { kind: 'none' };
  return {
    Status: (rpc: { getPeer(): string }, callback: (e: null, value: Msg) => void) => {
      // Status always answers: what is wrong goes in healthz, where the API server reports it
      const started = performance.now();
      const meta = requestMeta(rpc.getPeer(), true);
      void (async () => {
        const key = await call(describe, bound, { KeyId: options.keyId }, meta);
        const metadata = key.KeyMetadata as Msg;
        const listed = await call(versions, bound, { KeyId: options.keyId }, meta);
        const keyId = `${String(metadata.KeyId)}:${String(listed.PrimaryVersion)}`;
        if (metadata.KeyState !== 'Enabled') return { version: API_VERSION, healthz: `key ${options.keyId} is ${String(metadata.KeyState)}`, key_id: keyId };
        if (metadata.KeyUsage !== 'ENCRYPT_DECRYPT' || metadata.KeySpec !== 'SYMMETRIC_DEFAULT') {
          return { version: API_VERSION, healthz: `key ${options.keyId} is not a symmetric encryption key`, key_id: keyId };
        }
        return { version: API_VERSION, healthz: 'ok', key_id: keyId };
      })().then(
        (status) => {
          callback(null, status);
          logAccess(env, meta, 'Status', started, 0, 'OK');
        },
        (e: unknown) => {
          const text = isKeywardError(e) ? `${e.code}: ${e.message}` : `KMSInternalException: request id ${meta.requestId}`;
          if (!isKeywardError(e)) env.log.error({ err: e, requestId: meta.requestId }, 'KMS plugin status failed on the server side');
          callback(null, { version: API_VERSION, healthz: text, key_id: '' });
          // answered OK on the wire (healthz carries the problem): the code says what it was
          logAccess(env, meta, 'Status', started, 0, isKeywardError(e) ? e.code : 'KMSInternalException');
        },
      );
    },
    Encrypt: unaryCall(env, encrypt.name, async (req: Msg, credentials, meta) => {
      const r = await call(encrypt, credentials, { KeyId: options.keyId, Plaintext: req.plaintext ?? Buffer.alloc(0) }, meta);
      const blob = r.CiphertextBlob as Buffer;
      return {
        ciphertext: blob,
        key_id: `${keyIdOf(r.KeyId)}:${ciphertextKeyVersion(blob)}`,
        annotations: { [KEY_ARN_ANNOTATION]: Buffer.from(String(r.KeyId), 'utf8') },
      };
    }),
    Decrypt: unaryCall(env, decrypt.name, async (req: Msg, credentials, meta) => {
      const r = await call(decrypt, credentials, { KeyId: options.keyId, CiphertextBlob: req.ciphertext ?? Buffer.alloc(0) }, meta);
      return { plaintext: r.Plaintext };
    }, (e) => (isKeywardError(e) && DECRYPTION_CODES.has(e.code) ? new KeywardError('InvalidCiphertextException', 'The ciphertext cannot be decrypted with the plugin\'s key.') : e)),
  };
}

/** The plugin's gRPC server (only v2.KeyManagementService), not yet bound. */
export function buildK8sKmsServer(options: K8sKmsOptions): Server {
  const env: GrpcEnv = {
    services: options.services, log: options.log, listener: { boundPrincipal: options.principal }, unixSocket: true,
    access: accessLogger(options.log, 'k8s-kms', options.accessLog !== false),
  };
  const server = new Server({
    'grpc.max_receive_message_length': options.maxMessageBytes,
    'grpc.max_concurrent_streams': 1000,
    ...(options.idleTimeoutMs !== undefined ? { 'grpc.max_connection_idle_ms': options.idleTimeoutMs } : {}),
    interceptors: [edgeInterceptor(env, options.maxMessageBytes)],
  });
  server.addService(wipingAfterSerialize(serviceDefinition()), k8sKmsService(env, options));
  answerUnknownMethods(server, env, [K8S_KMS_SERVICE]);
  return server;
}

/** Builds and binds the plugin on its Unix socket (0600, in a 0700 directory); resolves with the socket path. */
export async function startK8sKmsPlugin(options: K8sKmsOptions, socketPath: string): Promise<{ server: Server; path: string }> {
  const server = buildK8sKmsServer(options);
  const path = await listenUnix(server, socketPath);
  return { server, path };
}
