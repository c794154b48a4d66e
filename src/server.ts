import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pino, type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildHttpApp, HttpMetrics } from './api/http/index.js';
import { AuditLog, FileAuditSink, type AuditSink } from './audit/index.js';
import { SigningKeyCache } from './authz/index.js';
import { Barrier } from './barrier/index.js';
import { ConfigError, isLoopback, parseListen, type Config } from './config/index.js';
import { Keyring, systemClock, type Clock } from './keyring/index.js';
import { invoke, sys, type Services } from './operations/index.js';
import { SealManager } from './seal/index.js';
import { MemoryStore, SqliteStore, type Store } from './storage/index.js';
import { VERSION } from './version.js';

/**
 * The composition root: the only place that picks concrete backends and wires the layers.
 * Everything else receives what it needs.
 */

export interface Installation {
  readonly config: Config;
  readonly store: Store;
  readonly barrier: Barrier;
  readonly seal: SealManager;
  readonly keyring: Keyring;
  readonly audit: AuditLog;
  readonly services: Services;
  readonly log: Logger;
  /** Seals (zeroizing every cached key), stops background work and closes the store. */
  close(): Promise<void>;
}

export interface InstallationOverrides {
  readonly clock?: Clock;
  readonly store?: Store;
  readonly log?: Logger;
}

export function createLogger(config: Config): Logger {
  // Keyward never logs request bodies or headers; the redaction is a second line of defence.
  return pino({
    level: config.logLevel,
    base: { node: config.nodeId ?? defaultNodeId() },
    redact: {
      paths: ['*.passphrase', '*.Plaintext', '*.plaintext', '*.token', '*.Token', '*.secretAccessKey', '*.SecretAccessKey', '*.authorization', 'headers.authorization'],
      censor: '[redacted]',
    },
  });
}

function defaultNodeId(): string {
  return `${hostname()}-${process.pid}`;
}

/** Opens the configured store: `sqlite` (the data directory), `sqlite:PATH` or `memory`. */
export function openStore(config: Config): Store {
  if (config.store === 'memory') return new MemoryStore();
  if (config.store === 'sqlite') return new SqliteStore(join(resolve(config.dataDir), 'keyward.db'));
  if (config.store.startsWith('sqlite:')) return new SqliteStore(resolve(config.store.slice('sqlite:'.length)));
  throw new ConfigError(`unknown store ${JSON.stringify(config.store)}: use sqlite, sqlite:PATH or memory`);
}

/** Wires store, barrier, seal and keyring into the services operations run on. */
export function openInstallation(config: Config, overrides: InstallationOverrides = {}): Installation {
  const clock = overrides.clock ?? systemClock;
  const log = overrides.log ?? createLogger(config);
  const store = overrides.store ?? openStore(config);
  const barrier = new Barrier(store);
  const seal = new SealManager(barrier, clock, {
    argon2: { memoryKiB: config.argon2MemoryKiB, iterations: config.argon2Iterations, parallelism: config.argon2Parallelism },
  });
  const keyring = new Keyring(barrier, clock, {
    region: config.region,
    metadataCache: { max: config.metadataCacheMax, ttlMs: config.metadataCacheTtlMs },
    materialCache: { max: config.materialCacheMax, ttlMs: config.materialCacheTtlMs },
    onError: (e) => log.error({ err: e }, 'background task failed'),
  });
  const signingKeys = new SigningKeyCache();
  const nodeId = config.nodeId ?? defaultNodeId();
  const audit = openAuditLog(config, store, nodeId, clock, log);
  const services: Services = { keyring, seal, clock, signingKeys, audit, nodeId, version: VERSION };

  seal.onUnsealed(() => {
    audit.unlock(barrier.auditKey());
    keyring.scheduler.start(config.schedulerIntervalMs);
    void keyring.scheduler.tick().catch((e: unknown) => log.error({ err: e }, 'scheduler failed'));
    log.info('unsealed');
  });
  seal.onSealed(() => {
    keyring.scheduler.stop();
    keyring.clear();
    signingKeys.clear();
    audit.lock();
    log.info('sealed');
  });

  let closed = false;
  return {
    config, store, barrier, seal, keyring, audit, services, log,
    async close() {
      if (closed) return;
      closed = true;
      // The final checkpoint is signed while the keys are still there.
      await audit.close();
      await seal.seal();
      keyring.close();
      await store.close();
    },
  };
}

/** The audit log: one chain per node id, in the store, plus the optional JSON-lines file. */
function openAuditLog(config: Config, store: Store, nodeId: string, clock: Clock, log: Logger): AuditLog {
  const sinks: AuditSink[] = [];
  if (config.audit === 'on' && config.auditFile !== undefined) {
    sinks.push(new FileAuditSink({ path: resolve(config.auditFile), fsync: config.auditFileFsync }));
  }
  return new AuditLog(store, {
    enabled: config.audit === 'on',
    chain: nodeId,
    node: nodeId,
    clock,
    checkpointEveryRecords: config.auditCheckpointRecords,
    checkpointEveryMs: config.auditCheckpointMs,
    sinks,
    exportDir: resolve(config.auditExportDir ?? join(config.dataDir, 'audit-export')),
    ...(config.auditRetentionDays !== undefined ? { retentionDays: config.auditRetentionDays } : {}),
    onError: (e) => log.error({ err: e }, 'audit log background write failed'),
  });
}

export interface RunningServer {
  readonly installation: Installation;
  /** http(s)://host:port of the TCP listener. */
  readonly url: string;
  readonly socketPath?: string;
  close(): Promise<void>;
}

/** Starts the listeners: loopback TCP (TLS required elsewhere) and optionally a Unix socket. */
export async function startServer(config: Config, overrides: InstallationOverrides = {}): Promise<RunningServer> {
  const { host, port } = parseListen(config.listen);
  const tls = config.tlsCert !== undefined && config.tlsKey !== undefined
    ? { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) }
    : undefined;
  if (!isLoopback(host) && tls === undefined) {
    throw new ConfigError(`refusing to listen on ${host} without TLS: a non-loopback address needs --tls-cert and --tls-key`);
  }
  const installation = openInstallation(config, overrides);
  const metrics = new HttpMetrics();
  const appOptions = {
    services: installation.services,
    log: installation.log,
    metrics,
    bodyLimit: config.bodyLimit,
    headersTimeoutMs: config.headersTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs,
    keepAliveTimeoutMs: config.keepAliveTimeoutMs,
  };
  const apps: FastifyInstance[] = [];
  try {
    const tcp = buildHttpApp({ ...appOptions, ...(tls ? { tls } : {}) });
    apps.push(tcp);
    await tcp.listen({ host, port });
    const address = tcp.server.address();
    const boundPort = typeof address === 'object' && address !== null ? address.port : port;
    const url = `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
    let socketPath: string | undefined;
    if (config.socket !== undefined) {
      socketPath = resolve(config.socket);
      prepareSocketDirectory(socketPath);
      const unix = buildHttpApp(appOptions);
      apps.push(unix);
      await unix.listen({ path: socketPath });
      chmodSync(socketPath, 0o600);
    }
    installation.log.info({ url, socket: socketPath, store: installation.store.kind }, 'listening');
    let closing: Promise<void> | undefined;
    return {
      installation,
      url,
      ...(socketPath !== undefined ? { socketPath } : {}),
      close() {
        closing ??= (async () => {
          await Promise.all(apps.map((a) => a.close()));
          await installation.close();
        })();
        return closing;
      },
    };
  } catch (e) {
    await Promise.all(apps.map((a) => a.close().catch(() => undefined)));
    await installation.close();
    throw e;
  }
}

/** The socket lives in a directory only the owner may enter (0700); a stale socket is replaced. */
function prepareSocketDirectory(socketPath: string): void {
  const dir = dirname(socketPath);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  const mode = statSync(dir).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new ConfigError(`the socket directory ${dir} is accessible to others (mode ${mode.toString(8)}); use a directory with mode 0700`);
  }
  if (existsSync(socketPath)) rmSync(socketPath);
}

export interface AdminCredentialsFile {
  readonly endpoint?: string;
  readonly region: string;
  readonly tenant: string;
  readonly account_id: string;
  readonly principal: string;
  readonly role: string;
  readonly access_key_id: string;
  readonly secret_access_key: string;
  readonly token: string;
}

const LOCAL_META = { requestId: 'local', sourceAddress: 'local', transport: 'local' as const };

/** Runs the Init operation in-process (the CLI's offline `keyward init`). */
export async function initializeInstallation(installation: Installation, passphrase: string): Promise<AdminCredentialsFile> {
  const r = await invoke(installation.services, sys.init, { kind: 'none' }, { passphrase }, LOCAL_META) as {
    tenant: string; account_id: string; principal: string; role: string;
    credentials: { access_key_id: string; secret_access_key: string; token: string };
  };
  return {
    region: installation.config.region,
    tenant: r.tenant,
    account_id: r.account_id,
    principal: r.principal,
    role: r.role,
    ...r.credentials,
  };
}

/** Runs the Unseal operation in-process (the server unsealing itself at start). */
export async function unsealInstallation(installation: Installation, passphrase: string): Promise<void> {
  await invoke(installation.services, sys.unseal, { kind: 'none' }, { passphrase }, LOCAL_META);
}

/** Writes a file only its owner can read (0600), in a directory only its owner can enter. */
export function writePrivateFile(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, content, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Credentials are shown once and kept here (0600). */
export function writeCredentialsFile(path: string, credentials: AdminCredentialsFile): void {
  writePrivateFile(path, `${JSON.stringify(credentials, null, 2)}\n`);
}

export function credentialsPath(config: Config): string {
  return join(resolve(config.dataDir), 'admin-credentials.json');
}
