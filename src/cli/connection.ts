import type { Command } from 'commander';
import { KeywardClient, credentialsFromEnv } from '../client/index.js';
import { readSecretFile } from './secrets.js';

export interface ConnectionFlags {
  readonly endpoint?: string;
  readonly socket?: string;
  readonly region?: string;
  readonly tokenFile?: string;
}

/** Adds the flags every command that talks to a server accepts. */
export function withConnection(cmd: Command): Command {
  return cmd
    .option('--endpoint <url>', 'Keyward endpoint (env KEYWARD_ENDPOINT, default http://127.0.0.1:9123)')
    .option('--socket <path>', 'reach the server over this Unix socket')
    .option('--region <region>', 'AWS region for signing (env AWS_REGION, default us-east-1)')
    .option('--token-file <path>', 'read a bearer token from this file (else KEYWARD_TOKEN or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)');
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

/** Runs fn with a client and closes it afterwards. */
export async function withClient<T>(flags: ConnectionFlags, fn: (client: KeywardClient) => Promise<T>): Promise<T> {
  const client = connect(flags);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}
