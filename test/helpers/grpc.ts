import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

/**
 * gRPC clients built only from the published protos (proto/ at the repository root) with
 * @grpc/grpc-js, as any user of Keyward's gRPC API would build them: no Keyward code involved.
 */
export const PROTO_DIR = resolve(import.meta.dirname, '../../proto');

export interface Unary {
  (request: Record<string, unknown>, metadata?: grpc.Metadata): Promise<Record<string, unknown>>;
}

export type GrpcClient = Record<string, Unary> & { readonly raw: grpc.Client; close(): void };

export interface ClientOptions {
  /** Bearer token sent as `authorization` metadata on every call. */
  readonly token?: string;
  /** TLS: the server's CA (PEM); plaintext without it. */
  readonly ca?: Buffer;
  /** mTLS: a client certificate chain and its private key (PEM). */
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** grpc-js channel options (e.g. grpc.ssl_target_name_override). */
  readonly channel?: grpc.ChannelOptions;
}

/** Loads `files` (relative to proto/) with the options most Node clients use. */
export function loadProto(files: string[], extraDirs: string[] = []): grpc.GrpcObject {
  const def = loadSync(files, { keepCase: true, longs: String, enums: String, bytes: Buffer, defaults: true, oneofs: true, includeDirs: [PROTO_DIR, ...extraDirs] });
  return grpc.loadPackageDefinition(def);
}

/** A client of `service` (e.g. 'keyward.v1.Kms') at `address` (host:port or unix:/path). */
export function grpcClient(pkg: grpc.GrpcObject, service: string, address: string, options: ClientOptions = {}): GrpcClient {
  const Ctor = service.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], pkg) as grpc.ServiceClientConstructor;
  if (typeof Ctor !== 'function') throw new Error(`no service ${service} in the loaded protos`);
  const creds = options.ca !== undefined ? grpc.credentials.createSsl(options.ca, options.key ?? null, options.cert ?? null) : grpc.credentials.createInsecure();
  const raw = new Ctor(address, creds, options.channel ?? {});
  const out: Record<string, unknown> = { raw, close: () => raw.close() };
  for (const name of Object.keys(Ctor.service)) {
    out[name] = (request: Record<string, unknown>, metadata = new grpc.Metadata()) => new Promise((res, rej) => {
      const md = metadata.clone();
      if (options.token !== undefined && md.get('authorization').length === 0) md.set('authorization', `Bearer ${options.token}`);
      (raw as unknown as Record<string, (r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: Record<string, unknown>) => void) => void>)[name]!(
        request, md, { deadline: Date.now() + 30_000 }, (e, v) => (e ? rej(e) : res(v)),
      );
    });
  }
  return out as GrpcClient;
}

/** The error a call failed with (fails the test if it succeeded). */
export async function grpcFailure(p: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (e) {
    return e as grpc.ServiceError;
  }
  throw new Error('the call succeeded; an error was expected');
}

export { grpc };
