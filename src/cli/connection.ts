import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { KeywardGrpcClient } from '../client/grpc-client.js';
import { KeywardClient, credentialsFromEnv } from '../client/keyward-client.js';
import { readSecretFile } from './secrets.js';

export interface ConnectionFlags {
  readonly endpoint?: string;
  readonly socket?: string;
  readonly region?: string;
  readonly tokenFile?: string;
}

/** Data commands may use gRPC instead of HTTP. */
export interface DataConnectionFlags extends ConnectionFlags {
  /** true (default address) or the gRPC address. */
  readonly grpc?: string | boolean;
  readonly grpcCa?: string;
}

/** Adds the flags every command that talks to a server accepts. */
export function withConnection(cmd: Command): Command {
  return cmd
    .option('--endpoint <url>', 'Keyward endpoint (env KEYWARD_ENDPOINT, default http://127.0.0.1:9123)')
    .option('--socket <path>', 'reach the server over this Unix socket')
    .option('--region <region>', 'AWS region for signing (env AWS_REGION, default us-east-1)')
    .option('--token-file <path>', 'read a bearer token from this file (else KEYWARD_TOKEN or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)');
}

/** The connection flags plus --grpc, for data commands. */
export function withDataConnection(cmd: Command): Command {
  return withConnection(cmd)
    .option('--grpc [address]', 'use Keyward\'s gRPC API at host:port or unix:/path (env KEYWARD_GRPC_ENDPOINT, default 127.0.0.1:9124); bearer token only')
    .option('--grpc-ca <file>', 'TLS for --grpc: the server\'s CA certificate (PEM)');
}

export function connect(flags: ConnectionFlags): KeywardClient {
  const credentials = flags.tokenFile !== undefined ? { token: readSecretFile(flags.tokenFile, 'token') } : credentialsFromEnv();
  return new KeywardClient({
    ...(flags.endpoint !== undefined ? { endpoint: flags.endpoint } : {}),
    ...(flags.socket !== undefined ? { socketPath: flags.socket } : {}),
    ...(flags.region !== undefined ? { region: flags.region } : {}),
    ...(credentials !== undefined ? { credentials } : {}),
  });
}

/** The data-plane calls both transports offer. */
export type DataClient = Pick<KeywardClient,
  'encrypt' | 'decrypt' | 'reEncrypt' | 'generateDataKey' | 'generateDataKeyWithoutPlaintext' | 'scopeEncrypt' | 'scopeDecrypt' | 'rotateScope' | 'describeScope' | 'close'>;

/** An HTTP client, or a gRPC one with --grpc (a bearer token from --token-file or KEYWARD_TOKEN). */
export function connectData(flags: DataConnectionFlags): DataClient {
  if (flags.grpc === undefined || flags.grpc === false) return connect(flags);
  const token = flags.tokenFile !== undefined ? readSecretFile(flags.tokenFile, 'token') : undefined;
  return new KeywardGrpcClient({
    ...(typeof flags.grpc === 'string' ? { address: flags.grpc } : {}),
    ...(token !== undefined ? { token } : {}),
    ...(flags.grpcCa !== undefined ? { ca: readFileSync(flags.grpcCa) } : {}),
  });
}

/** Runs fn with a client and closes it afterwards. */
export function withClient<T>(flags: ConnectionFlags, fn: (client: KeywardClient) => Promise<T>): Promise<T> {
  return using(connect(flags), fn);
}

/** Runs fn with a data client (HTTP, or gRPC with --grpc) and closes it afterwards. */
export function withDataClient<T>(flags: DataConnectionFlags, fn: (client: DataClient) => Promise<T>): Promise<T> {
  return using(connectData(flags), fn);
}

async function using<C extends { close(): void }, T>(client: C, fn: (client: C) => Promise<T>): Promise<T> {
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}
