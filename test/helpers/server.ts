import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KMSClient } from '@aws-sdk/client-kms';
import { pino, type Logger } from 'pino';
import { loadConfig, type ConfigInput } from '../../src/config/index.js';
import type { Clock } from '../../src/keyring/index.js';
import { startServer, type RunningServer } from '../../src/server.js';

export const TEST_PASSPHRASE = 'correct horse battery staple';

export interface AdminCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly token: string;
}

export interface TestServer {
  readonly server: RunningServer;
  /** Moves the server's clock (and every client's, so SigV4 dates stay within five minutes). */
  advanceDays(days: number): void;
  readonly url: string;
  readonly dataDir: string;
  readonly admin: AdminCredentials;
  /** An AWS SDK client signed with the admin's credentials. */
  readonly kms: KMSClient;
  client(creds: { accessKeyId: string; secretAccessKey: string }): KMSClient;
  close(): Promise<void>;
}

export type TestClock = Clock & { advanceDays(days: number): void; advanceMs(ms: number): void; readonly offsetMs: number };

/** A movable clock for deletion windows and rotation periods: real time plus an offset. */
export function testClock(): TestClock {
  let offset = 0;
  const clock = (() => new Date(Date.now() + offset)) as TestClock;
  clock.advanceDays = (days) => { offset += days * 86_400_000; };
  clock.advanceMs = (ms) => { offset += ms; };
  Object.defineProperty(clock, 'offsetMs', { get: () => offset });
  return clock;
}

export function tempDir(prefix = 'keyward-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Cheap Argon2 for tests that are not about the KDF (the default costs ~0.2 s per init). */
export const FAST_ARGON2: ConfigInput = { argon2MemoryKiB: 1024, argon2Iterations: 1 };

export async function initViaHttp(url: string, passphrase = TEST_PASSPHRASE): Promise<AdminCredentials> {
  const res = await fetch(`${url}/v1/sys/init`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passphrase }) });
  const body = await res.json() as { credentials: { access_key_id: string; secret_access_key: string; token: string } };
  if (res.status !== 200) throw new Error(`init failed: ${res.status} ${JSON.stringify(body)}`);
  return { accessKeyId: body.credentials.access_key_id, secretAccessKey: body.credentials.secret_access_key, token: body.credentials.token };
}

export function kmsClient(url: string, creds: { accessKeyId: string; secretAccessKey: string }, region = 'us-east-1'): KMSClient {
  return new KMSClient({ endpoint: url, region, credentials: creds, maxAttempts: 1 });
}

/** Starts a real server on a real loopback port (port 0) with its own data directory, initialised. */
export async function startTestServer(options: { config?: ConfigInput; dataDir?: string; init?: boolean; admin?: AdminCredentials; log?: Logger } = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? tempDir();
  const config = loadConfig({ dataDir, listen: '127.0.0.1:0', logLevel: 'silent', ...FAST_ARGON2, ...options.config }, {});
  const clock = testClock();
  const server = await startServer(config, { clock, ...(options.log ? { log: options.log } : {}) });
  const admin = options.admin ?? (options.init === false ? { accessKeyId: '', secretAccessKey: '', token: '' } : await initViaHttp(server.url));
  const clients: KMSClient[] = [];
  const client = (creds: { accessKeyId: string; secretAccessKey: string }) => {
    const c = kmsClient(server.url, creds);
    c.config.systemClockOffset = clock.offsetMs;
    clients.push(c);
    return c;
  };
  return {
    server,
    advanceDays(days) {
      clock.advanceDays(days);
      for (const c of clients) c.config.systemClockOffset = clock.offsetMs;
    },
    url: server.url,
    dataDir,
    admin,
    kms: client(admin),
    client,
    async close() {
      for (const c of clients) c.destroy();
      await server.close();
      if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A logger that keeps every line (parsed) for a test to look at. */
export function capturingLogger(level = 'info'): { log: Logger; lines: Array<Record<string, unknown> & { msg: string }> } {
  const lines: Array<Record<string, unknown> & { msg: string }> = [];
  const log = pino({ level }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown> & { msg: string }); } });
  return { log, lines };
}
