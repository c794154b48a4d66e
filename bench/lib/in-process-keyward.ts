import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { KeywardClient } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/index.js';
import { startServer, type RunningServer } from '../../src/server.js';
import type { BenchContext } from './types.js';

export interface InProcessKeyward {
  readonly server: RunningServer;
  /** An SDK client signed with the admin's SigV4 credentials. */
  readonly client: KeywardClient;
  /** A fresh symmetric key's id. */
  readonly keyId: string;
  /** The admin's SigV4 credentials (for child processes such as the CLI). */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  close(): Promise<void>;
}

/**
 * A Keyward in this process, initialised, with one key: for client-side scenarios whose figures
 * do not depend on the server (a handful of GenerateDataKey calls), not for server load.
 */
export async function startInProcessKeyward(ctx: BenchContext): Promise<InProcessKeyward> {
  const dataDir = mkdtempSync(join(ctx.tmpDir, 'keyward-'));
  const server = await startServer(loadConfig({ dataDir, listen: '127.0.0.1:0', logLevel: 'silent', argon2MemoryKiB: 1024, argon2Iterations: 1 }, {}));
  const res = await fetch(`${server.url}/v1/sys/init`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: 'bench passphrase, scratch data only' }) });
  if (res.status !== 200) throw new Error(`init failed: HTTP ${res.status}`);
  const creds = (await res.json() as { credentials: { access_key_id: string; secret_access_key: string } }).credentials;
  const credentials = { accessKeyId: creds.access_key_id, secretAccessKey: creds.secret_access_key };
  const client = new KeywardClient({ endpoint: server.url, credentials });
  const keyId = (await client.send<{ KeyMetadata: { KeyId: string } }>('TrentService.CreateKey', {})).KeyMetadata.KeyId;
  return {
    server, client, keyId, credentials,
    async close() {
      client.close();
      await server.close();
    },
  };
}
