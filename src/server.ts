import { randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import cluster from 'node:cluster';
import { hostname } from 'node:os';
import { createSecureContext, type Server as TlsServer } from 'node:tls';
import { dirname, join, resolve } from 'node:path';
import type { Server as GrpcServer } from '@grpc/grpc-js';
import { pino, type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
// gRPC (grpc-js, protobufjs, the protos) loads only when a gRPC listener is configured: ~15 MiB of idle RSS
import type { ClientCertificateCredentials } from './api/grpc/index.js';
import { parseBoundPrincipal } from './api/grpc/credentials.js';
import { ListenerError, prepareSocketDirectory } from './api/grpc/socket-directory.js';
import { buildHttpApp, HttpMetrics } from './api/http/index.js';
import { MiniKmsListener } from './api/minikms/index.js';
import { AnchorFile, anchorPath, AuditLog, FileAuditSink, RollbackGuard, type AuditSink } from './audit/index.js';
import { SigningKeyCache } from './authz/index.js';
import { Barrier } from './barrier/index.js';
import { ConfigError, isLoopback, parseListen, type Config } from './config/index.js';
import { Keyring, refuseDefaultTenant, systemClock, tenantPathMatcher, type Clock } from './keyring/index.js';
import { Pki } from './pki/index.js';
import { AuditCoalescer, Input, invoke, networkKey, operationForTarget, RateLimits, sys, type NodeLifecycle, type Services } from './operations/index.js';
import { KeywardError } from './errors/index.js';
import { checkSpec, parseStaticKey, Pkcs11Seal, SealManager, TransitSeal, type SealManagerOptions } from './seal/index.js';
import { countingWrites, MemoryStore, PostgresStore, SqliteStore, StoreTimings, type Store } from './storage/index.js';
import { backupStore, storeLabel } from './maintenance.js';
import { VERSION } from './version.js';

/**
 * The composition root: the only place that picks concrete backends and wires the layers.
 * Everything else receives what it needs.
 */

export interface Installation {
  readonly config: Config;
  /** Draining (stopping): health answers 503 and every answer closes its connection. */
  readonly lifecycle: NodeLifecycle;
  readonly store: Store;
  readonly barrier: Barrier;
  readonly seal: SealManager;
  readonly keyring: Keyring;
  readonly audit: AuditLog;
  /** Compares the store with the node-local anchor (absent for the memory store or with audit off). */
  readonly rollback: RollbackGuard | undefined;
  readonly services: Services;
  readonly log: Logger;
  /** Seals (zeroizing every cached key), stops background work and closes the store. */
  close(): Promise<void>;
}

export interface InstallationOverrides {
  readonly clock?: Clock;
  readonly store?: Store;
  readonly log?: Logger;
  /** Where seal secrets (KEYWARD_ROOT_KEY, KEYWARD_PKCS11_PIN, transit credentials) are read; default process.env. */
  readonly secretsEnv?: NodeJS.ProcessEnv;
  /** false: no scheduler after unseal (offline tools that only read, such as a filtered backup). */
  readonly background?: boolean;
}

/** A secret from an env variable or a file (never argv); the message names both. */
function secretFrom(env: NodeJS.ProcessEnv, variable: string, file: string | undefined, what: string): string | undefined {
  if (file !== undefined) {
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      throw new KeywardError('SealUnavailableException', `Cannot read the ${what} file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}.`);
    }
  }
  const v = env[variable];
  return v === undefined || v === '' ? undefined : v;
}

/** The seals this node can use, from configuration; secrets are read when a seal needs them. */
export function sealOptionsFrom(config: Config, env: NodeJS.ProcessEnv = process.env): SealManagerOptions {
  const pkcs11Module = config.pkcs11Module;
  const transitEndpoint = config.transitEndpoint;
  const transitKeyId = config.transitKeyId;
  return {
    argon2: { memoryKiB: config.argon2MemoryKiB, iterations: config.argon2Iterations, parallelism: config.argon2Parallelism },
    staticKey: () => {
      const text = secretFrom(env, 'KEYWARD_ROOT_KEY', config.rootKeyFile, 'static root key');
      return text === undefined ? undefined : parseStaticKey(text, config.rootKeyFile ?? 'KEYWARD_ROOT_KEY');
    },
    autoSeals: {
      ...(pkcs11Module !== undefined ? {
        pkcs11: () => {
          const pin = secretFrom(env, 'KEYWARD_PKCS11_PIN', config.pkcs11PinFile, 'PKCS#11 PIN');
          if (pin === undefined) throw new KeywardError('SealUnavailableException', 'The PKCS#11 seal needs the token PIN: set KEYWARD_PKCS11_PIN or pkcs11PinFile. Keyward stays sealed.');
          return new Pkcs11Seal({
            module: pkcs11Module, pin, keyLabel: config.pkcs11KeyLabel, generateKey: config.pkcs11GenerateKey,
            ...(config.pkcs11TokenLabel !== undefined ? { tokenLabel: config.pkcs11TokenLabel } : {}),
            ...(config.pkcs11Slot !== undefined ? { slot: config.pkcs11Slot } : {}),
          });
        },
      } : {}),
      ...(transitEndpoint !== undefined && transitKeyId !== undefined ? {
        transit: () => new TransitSeal({
          endpoint: transitEndpoint, keyId: transitKeyId, region: config.transitRegion, timeoutMs: config.transitTimeoutMs,
          credentials: transitCredentials(config, env),
        }),
      } : {}),
    },
  };
}

function transitCredentials(config: Config, env: NodeJS.ProcessEnv): { accessKeyId: string; secretAccessKey: string } {
  if (config.transitCredentialsFile !== undefined) {
    const text = secretFrom(env, '', config.transitCredentialsFile, 'transit credentials') ?? '';
    return parseTransitCredentials(text, config.transitCredentialsFile);
  }
  const accessKeyId = env.KEYWARD_TRANSIT_ACCESS_KEY_ID;
  const secretAccessKey = env.KEYWARD_TRANSIT_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new KeywardError('SealUnavailableException', 'The transit seal needs credentials for the outer KMS: set KEYWARD_TRANSIT_ACCESS_KEY_ID and KEYWARD_TRANSIT_SECRET_ACCESS_KEY, or transitCredentialsFile.');
  }
  return { accessKeyId, secretAccessKey };
}

/**
 * The transit credentials file: the shape of admin-credentials.json (`access_key_id`,
 * `secret_access_key`), or exactly what `keyward principal create` prints (`Credentials` with
 * `AccessKeyId` and `SecretAccessKey`), or an AWS-style `{"AccessKeyId", "SecretAccessKey"}`.
 */
export function parseTransitCredentials(text: string, file: string): { accessKeyId: string; secretAccessKey: string } {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
    if (parsed === null || typeof parsed !== 'object') throw new Error('not an object');
  } catch {
    throw new KeywardError('SealUnavailableException', `The transit credentials file ${file} is not JSON with access_key_id and secret_access_key (or the output of keyward principal create).`);
  }
  const nested = parsed.Credentials ?? parsed.credentials;
  const from = nested !== null && typeof nested === 'object' ? nested as Record<string, unknown> : parsed;
  const accessKeyId = from.access_key_id ?? from.AccessKeyId;
  const secretAccessKey = from.secret_access_key ?? from.SecretAccessKey;
  if (typeof accessKeyId !== 'string' || typeof secretAccessKey !== 'string') {
    throw new KeywardError('SealUnavailableException', `The transit credentials file ${file} lacks access_key_id or secret_access_key (or Credentials.AccessKeyId and Credentials.SecretAccessKey).`);
  }
  return { accessKeyId, secretAccessKey };
}

export function createLogger(config: Config): Logger {
  // Keyward never logs request bodies or headers; the redaction is a second line of defence.
  return pino({
    level: config.logLevel,
    base: { node: nodeIdOf(config) },
    redact: {
      paths: ['*.passphrase', '*.Plaintext', '*.plaintext', '*.token', '*.Token', '*.secretAccessKey', '*.SecretAccessKey', '*.authorization', 'headers.authorization'],
      censor: '[redacted]',
    },
  });
}

const NODE_ID_FILE = 'node-id';
const NODE_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The node id names this node's audit chain, so it must outlive restarts: the configured one, else
 * the one persisted in the data directory (made once: the host name and a random suffix). Every
 * worker of a node reads the same file, so they share one id (and one chain).
 */
export function nodeIdOf(config: Pick<Config, 'nodeId' | 'dataDir'>): string {
  if (config.nodeId !== undefined) return config.nodeId;
  const dir = resolve(config.dataDir);
  const file = join(dir, NODE_ID_FILE);
  const existing = readNodeId(file);
  if (existing !== undefined) return existing;
  const made = `${hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 48) || 'node'}-${randomBytes(4).toString('hex')}`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const fd = openSync(file, 'wx', 0o600);
    try {
      writeSync(fd, `${made}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return made;
  } catch (e) {
    // another process of this node made it first: use theirs
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return readNodeId(file) ?? made;
    throw new ConfigError(`cannot persist the node id in ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (set nodeId instead)`);
  }
}

function readNodeId(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`cannot read the node id file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (text === '') return undefined;
  if (!NODE_ID_PATTERN.test(text)) throw new ConfigError(`the node id file ${file} does not hold a node id (letters, digits, . _ -; at most 64)`);
  return text;
}

/** The SQLite file of the configured store, or undefined for other stores. */
export function sqlitePathOf(config: Config): string | undefined {
  if (config.store === 'sqlite') return join(resolve(config.dataDir), 'keyward.db');
  if (config.store.startsWith('sqlite:')) return resolve(config.store.slice('sqlite:'.length));
  return undefined;
}

/**
 * A running server marks its SQLite store with `<db>.server-pid` (its pid), so offline commands
 * that rewrite the store (change-passphrase) refuse while it runs. A stale file (the process is
 * gone, e.g. after SIGKILL) is ignored.
 */
export function runningServerPid(config: Config): number | undefined {
  const db = sqlitePathOf(config);
  if (db === undefined) return undefined;
  let pid: number;
  try {
    pid = Number(readFileSync(`${db}.server-pid`, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (e) {
    // EPERM: alive, but another user's
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

/** Marks the store as served by this process; the returned function removes the mark (if still ours). */
function markServing(config: Config): () => void {
  const db = sqlitePathOf(config);
  if (db === undefined || runningServerPid(config) !== undefined) return () => undefined;
  const file = `${db}.server-pid`;
  try {
    writeFileSync(file, `${process.pid}\n`, { mode: 0o600 });
  } catch {
    return () => undefined;
  }
  return () => {
    try {
      if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file, { force: true });
    } catch {
      // already gone
    }
  };
}

/** Opens the configured store: `sqlite` (the data directory), `sqlite:PATH`, `postgres://...` or `memory`. */
export function openStore(config: Config): Store {
  if (config.store === 'memory') return new MemoryStore();
  if (/^postgres(ql)?:\/\//.test(config.store)) return new PostgresStore(config.store, { timeoutMs: config.storeTimeoutMs });
  // The audit log's group commits use batchWrite: fsynced unless auditSync is `os`.
  const sqlite = { batchWriteFsync: config.auditSync === 'fsync' };
  if (config.store === 'sqlite') return new SqliteStore(join(resolve(config.dataDir), 'keyward.db'), sqlite);
  if (config.store.startsWith('sqlite:')) return new SqliteStore(resolve(config.store.slice('sqlite:'.length)), sqlite);
  throw new ConfigError(`unknown store ${JSON.stringify(config.store)}: use sqlite, sqlite:PATH, postgres://USER@HOST:PORT/DB or memory`);
}

/** Wires store, barrier, seal and keyring into the services operations run on. */
export function openInstallation(config: Config, overrides: InstallationOverrides = {}): Installation {
  const clock = overrides.clock ?? systemClock;
  const log = overrides.log ?? createLogger(config);
  const storeTimings = new StoreTimings();
  const store = storeTimings.wrap(overrides.store ?? openStore(config));
  // every write under the barrier is a state change: the request that made it advances the store epoch
  const stateWrites = { count: 0, covered: 0 };
  const barrier = new Barrier(countingWrites(store, () => { stateWrites.count += 1; }), {
    rotateAfter: config.barrierRotateAfter,
    reserveBlock: config.barrierReserveBlock,
    rewrapBatch: config.barrierRewrapBatch,
    rewrapPauseMs: config.barrierRewrapPauseMs,
    rootSuccessorGraceMs: config.rootRotationGraceMs,
    now: clock,
    onError: (e) => log.error({ err: e }, 'barrier background work failed; it resumes at the next unseal'),
    // another node rotated the root key: this node cannot follow the keyring, so it fails closed
    onRootKeyReplaced: () => {
      log.warn('the root key was replaced by another node; sealing: unseal this node again');
      void seal.seal('root-replaced').catch((e: unknown) => log.error({ err: e }, 'sealing failed'));
    },
  });
  const seal = new SealManager(barrier, clock, sealOptionsFrom(config, overrides.secretsEnv));
  const keyring = new Keyring(barrier, clock, {
    region: config.region,
    metadataCache: { max: config.metadataCacheMax, ttlMs: config.metadataCacheTtlMs },
    materialCache: { max: config.materialCacheMax, ttlMs: config.materialCacheTtlMs },
    tenantQuotas: {
      maxKeys: config.tenantMaxKeys, maxPrincipals: config.tenantMaxPrincipals,
      requestsPerSecond: config.tenantRequestsPerSecond, burst: config.tenantBurst,
    },
    encryptionCountBlock: config.scopeReserveBlock,
    onError: (e) => log.error({ err: e }, 'background task failed'),
    onTenantDeleted: (tenant) => log.info({ tenant }, 'tenant deleted at the end of its window: its salt and every record are gone (crypto-shredded)'),
  });
  const pki = new Pki(keyring, clock, {
    rootDays: config.pkiRootValidityDays,
    tenantCaDays: config.pkiTenantCaValidityDays,
    memberDays: config.pkiMemberValidityDays,
    crlPeriodMs: config.pkiCrlPeriodHours * 3_600_000,
    records: { max: config.metadataCacheMax, ttlMs: config.metadataCacheTtlMs },
    keys: { max: config.materialCacheMax, ttlMs: config.materialCacheTtlMs },
    ...(config.pkiPublicUrl !== undefined ? { publicUrl: config.pkiPublicUrl } : {}),
    ...(config.tlsClientCa !== undefined && config.tlsClientCa !== 'auto' ? { clientTrustRoot: readCertificateFile(config.tlsClientCa) } : {}),
  });
  const signingKeys = new SigningKeyCache();
  const nodeId = nodeIdOf(config);
  // the node-local anchor: outside the store, so a store-only attacker cannot roll it back
  const anchor = store.kind !== 'memory' && config.audit === 'on' ? new AnchorFile(anchorPath(resolve(config.dataDir), storeLabel(config.store)), storeLabel(config.store)) : undefined;
  // the workers of one node each keep a chain (no contention on one head); worker ids restart at 1
  // with the node, so the names are stable across restarts (a replaced worker starts a new one)
  const chain = cluster.isWorker && cluster.worker !== undefined ? `${nodeId}-w${cluster.worker.id}` : nodeId;
  const audit = openAuditLog(config, store, chain, clock, log, anchor, barrier);
  const rollback = anchor === undefined ? undefined : new RollbackGuard(store, audit, anchor, {
    clock,
    intervalMs: config.rollbackCheckMs,
    stateWrites,
    onDetected: (findings) => log.error({ findings: findings.map((f) => f.message) }, 'ROLLBACK DETECTED: the store is older than this node\'s anchor; key operations are refused until an operator checks and runs `keyward audit accept-rollback`'),
    onAccepted: (at) => log.warn({ acceptedAt: at }, 'the operator accepted the store as it is (keyward audit accept-rollback): serving again'),
    onError: (e) => log.error({ err: e }, 'comparing the store with the node anchor failed'),
  });
  const rateLimits = new RateLimits({
    principal: { tokens: config.rateLimitPerSecond, intervalMs: 1000, burst: config.rateLimitBurst },
    expensive: { tokens: config.unsealRatePerMinute, intervalMs: 60_000, burst: config.unsealBurst },
    secretFailures: {
      global: { tokens: config.secretFailuresPerMinute, intervalMs: 60_000, burst: config.secretFailuresBurst },
      network: { tokens: config.secretFailuresPerNetworkPerMinute, intervalMs: 60_000, burst: config.secretFailuresNetworkBurst },
    },
    unauthenticated: {
      address: { tokens: config.unauthenticatedPerSecond, intervalMs: 1000, burst: config.unauthenticatedBurst },
      global: { tokens: config.unauthenticatedGlobalPerSecond, intervalMs: 1000, burst: config.unauthenticatedGlobalBurst },
    },
    // one line per failed passphrase or share check (the audit record says UnsealFailedException)
    onSecretFailure: (f) => log.warn({ operation: f.operation, source: f.sourceAddress || 'local', network: networkKey(f.sourceAddress), requestId: f.requestId }, 'failed secret check: a wrong passphrase or share'),
  });
  const auditCoalescer = config.audit === 'on' && config.auditCoalesceGlobal > 0 ? new AuditCoalescer({
    perSource: config.auditCoalescePerSource,
    global: config.auditCoalesceGlobal,
    intervalMs: config.auditCoalesceIntervalMs,
    now: clock,
    write: (event) => audit.record(event),
    onError: (e) => log.error({ err: e }, 'writing the coalesced audit record of unauthenticated requests failed'),
  }) : undefined;
  const sigv4 = {
    regions: new Set([config.region, ...(config.sigv4Regions?.split(',') ?? [])]),
    allowMinimalSignedHeaders: config.sigv4AllowMinimalSignedHeaders,
  };
    const lifecycle: NodeLifecycle = { draining: false };
  const services: Services = {
    keyring, pki, seal, clock, signingKeys, audit, nodeId: chain, version: VERSION, rateLimits, lifecycle, sigv4,
    ...(auditCoalescer !== undefined ? { auditCoalescer } : {}),
    scopeMaxEncryptions: config.scopeMaxEncryptions,
    storeTimings,
    stateWrites,
    ...(rollback !== undefined ? { rollback } : {}),
    ...(store.health ? { storeHealth: () => store.health!() } : {}),
  };

  seal.onUnsealed(() => {
    audit.unlock(barrier.auditKey());
    if (overrides.background !== false) rollback?.start();
    if (overrides.background !== false) {
      keyring.scheduler.start(config.schedulerIntervalMs);
      void keyring.scheduler.tick().catch((e: unknown) => log.error({ err: e }, 'scheduler failed'));
    }
    log.info('unsealed');
  });
  seal.onSealed(() => {
    keyring.scheduler.stop();
    keyring.clear();
    pki.clear();
    signingKeys.clear();
    rollback?.stop();
    audit.lock();
    log.info('sealed');
  });

  let closed = false;
  return {
    config, lifecycle, store, barrier, seal, keyring, audit, rollback, services, log,
    async close() {
      if (closed) return;
      closed = true;
      rollback?.stop();
      // Counted requests are written before the final checkpoint, which is signed while the keys are still there.
      await auditCoalescer?.close();
      await audit.close();
      await seal.seal('shutdown');
      pki.close();
      keyring.close();
      await store.close();
    },
  };
}

/** The gRPC listener's trust anchors follow the PKI: set at unseal and on every CA change (any node). */
function followTrustAnchors(installation: Installation, mtls: ClientCertificateCredentials): void {
  const refresh = () => {
    if (installation.seal.sealed) return;
    installation.services.pki.trustAnchors().then((anchors) => mtls.trust(anchors), (e: unknown) => {
      installation.log.error({ err: e }, 'reading the CA certificates for gRPC client authentication failed');
    });
  };
  installation.seal.onUnsealed(refresh);
  installation.services.pki.onCaChange(refresh);
  refresh();
}

/** The root a client-certificate CA file holds (PEM or DER), as DER. */
function readCertificateFile(path: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (e) {
    throw new ConfigError(`cannot read the client CA file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    return new X509Certificate(data).raw;
  } catch {
    throw new ConfigError(`the client CA file ${path} is not an X.509 certificate (PEM or DER)`);
  }
}

/** The audit log: one chain per node id (per worker), in the store, plus the optional JSON-lines file. */
function openAuditLog(config: Config, store: Store, chain: string, clock: Clock, log: Logger, anchor: AnchorFile | undefined, barrier: Barrier): AuditLog {
  const sinks: AuditSink[] = [];
  if (config.audit === 'on' && config.auditFile !== undefined) {
    sinks.push(new FileAuditSink({ path: resolve(config.auditFile), fsync: config.auditFileFsync }));
  }
  return new AuditLog(store, {
    enabled: config.audit === 'on',
    chain,
    node: chain,
    clock,
    checkpointEveryRecords: config.auditCheckpointRecords,
    checkpointEveryMs: config.auditCheckpointMs,
    // measured (docs/performance.md, Run I): fewer, larger commits pay where processes share the
    // cores; one process's event loop would only idle while its batch waits
    commitDelayMs: config.auditCommitDelayMs ?? (cluster.isWorker ? 1 : 0),
    sinks,
    exportDir: resolve(config.auditExportDir ?? join(config.dataDir, 'audit-export')),
    // the checkpoint signing key's versions live under the barrier (rotation: keyward audit rotate-checkpoint-key)
    checkpointKeyStore: barrier,
    ...(config.auditRetentionDays !== undefined ? { retentionDays: config.auditRetentionDays } : {}),
    ...(anchor !== undefined ? { onAnchor: async (chain: string, point: { seq: number; hash: string }, epoch: number | undefined) => { await anchor.advance(epoch ?? 0, { [chain]: point }, clock()); } } : {}),
    onError: (e) => log.error({ err: e }, 'audit log background work failed'),
    // one line when writes start failing, a summary a minute while they do, one when they recover
    onWriteState: (state) => {
      if (state.kind === 'failing') {
        log.error({ reason: errorText(state.error) }, 'the audit log cannot write: every request is refused until it can (retrying; summarised every minute)');
      } else if (state.kind === 'still-failing') {
        log.error({ failures: state.failures, failingForS: Math.round((clock().getTime() - state.sinceMs) / 1000), reason: errorText(state.error) }, 'the audit log still cannot write');
      } else {
        log.info({ failures: state.failures, failedForS: Math.round((clock().getTime() - state.sinceMs) / 1000) }, 'the audit log writes again');
      }
    },
  });
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export interface RunningServer {
  readonly installation: Installation;
  /** http(s)://host:port of the TCP listener. */
  readonly url: string;
  readonly socketPath?: string;
  /** host:port of the gRPC listener, when one is configured. */
  readonly grpcAddress?: string;
  readonly grpcSocketPath?: string;
  /** host:port of the mini-kms protocol listener, when one is configured. */
  readonly minikmsAddress?: string;
  readonly minikmsSocketPath?: string;
  /** The Kubernetes KMS v2 plugin's Unix socket, when one is configured. */
  readonly k8sKmsSocketPath?: string;
  /** Stops: listeners closed once the requests in flight are answered (no deadline), then the installation. */
  close(): Promise<void>;
  /**
   * Stops gracefully (SIGTERM): health answers 503 at once, the listeners stop accepting, requests
   * in flight finish (each answer closes its connection) within `shutdownGraceMs`, after which
   * the connections left are cut; then close().
   */
  drain(): Promise<void>;
  /** Reads the TLS certificate and key files again for new connections (SIGHUP); a bad pair changes nothing. */
  reloadTls(): void;
}

export interface StartOptions extends InstallationOverrides {
  /** Runs once the installation is open, before any listener accepts (a cluster worker unseals here). */
  readonly beforeListen?: (installation: Installation) => Promise<void>;
}

/** Starts the listeners: loopback TCP (TLS required elsewhere) and optionally a Unix socket. */
export async function startServer(config: Config, overrides: StartOptions = {}): Promise<RunningServer> {
  const { host, port } = parseListen(config.listen);
  const tls = readTlsFiles(config);
  if (!isLoopback(host) && tls === undefined) {
    throw new ConfigError(`refusing to listen on ${host} without TLS: a non-loopback address needs --tls-cert and --tls-key`);
  }
  const grpcListen = config.grpcListen === undefined ? undefined : parseListen(config.grpcListen);
  if (grpcListen !== undefined && !isLoopback(grpcListen.host) && tls === undefined) {
    throw new ConfigError(`refusing to serve gRPC on ${grpcListen.host} without TLS: a non-loopback address needs --tls-cert and --tls-key`);
  }
  let boundPrincipal: { tenantId: string; name: string } | undefined;
  try {
    boundPrincipal = config.grpcSocketPrincipal === undefined ? undefined : parseBoundPrincipal(config.grpcSocketPrincipal);
  } catch (e) {
    throw new ConfigError(`invalid grpcSocketPrincipal: ${(e as Error).message}`);
  }
  const minikmsListen = config.minikmsListen === undefined ? undefined : parseListen(config.minikmsListen);
  if (minikmsListen !== undefined && !isLoopback(minikmsListen.host) && tls === undefined) {
    throw new ConfigError(`refusing to serve the mini-kms protocol on ${minikmsListen.host} without TLS: a non-loopback address needs --tls-cert and --tls-key`);
  }
  let k8sPrincipal: { tenantId: string; name: string };
  try {
    k8sPrincipal = parseBoundPrincipal(config.k8sKmsPrincipal);
  } catch (e) {
    throw new ConfigError(`invalid k8sKmsPrincipal: ${(e as Error).message}`);
  }
  const installation = openInstallation(config, overrides);
  try {
    await installation.store.ready?.();
    await overrides.beforeListen?.(installation);
  } catch (e) {
    await installation.close().catch(() => undefined);
    throw e;
  }
  const unmark = markServing(config);
  const metrics = new HttpMetrics(installation.services);
  const appOptions = {
    services: installation.services,
    log: installation.log,
    metrics,
    accessLog: config.accessLog,
    bodyLimit: config.bodyLimit,
    headersTimeoutMs: config.headersTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs,
    keepAliveTimeoutMs: config.keepAliveTimeoutMs,
    allowedOrigins: new Set([
      ...(config.sysAllowedOrigins?.split(',') ?? []),
      ...(config.pkiPublicUrl !== undefined ? [new URL(config.pkiPublicUrl).origin] : []),
    ]),
  };
  const apps: FastifyInstance[] = [];
  const grpcServers: GrpcServer[] = [];
  let minikms: MiniKmsListener | undefined;
  const grpcOptions = { services: installation.services, log: installation.log, maxMessageBytes: config.grpcMaxMessageBytes, idleTimeoutMs: config.keepAliveTimeoutMs, accessLog: config.accessLog };
  try {
    const tcp = buildHttpApp({ ...appOptions, ...(tls ? { tls: { ...tls, requestClientCertificates: config.tlsClientCa !== undefined } } : {}) });
    apps.push(tcp);
    await tcp.listen({ host, port });
    const address = tcp.server.address();
    const boundPort = typeof address === 'object' && address !== null ? address.port : port;
    const url = `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
    let socketPath: string | undefined;
    if (config.socket !== undefined) {
      socketPath = resolve(config.socket);
      await asConfigError(() => prepareSocketDirectory(socketPath!));
      const unix = buildHttpApp(appOptions);
      apps.push(unix);
      await unix.listen({ path: socketPath });
      chmodSync(socketPath, 0o600);
    }
    let grpcAddress: string | undefined;
    const grpcApi = grpcListen !== undefined || config.grpcSocket !== undefined ? await import('./api/grpc/index.js') : undefined;
    if (grpcListen !== undefined) {
      const { buildGrpcServer, ClientCertificateCredentials, listenTcp } = grpcApi!;
      const grpc = buildGrpcServer(grpcOptions);
      grpcServers.push(grpc);
      const mtls = tls !== undefined && config.tlsClientCa !== undefined ? new ClientCertificateCredentials(tls) : undefined;
      const grpcPort = await listenTcp(grpc, grpcListen.host, grpcListen.port, tls, mtls);
      if (mtls !== undefined) followTrustAnchors(installation, mtls);
      grpcAddress = `${grpcListen.host.includes(':') ? `[${grpcListen.host}]` : grpcListen.host}:${grpcPort}`;
    }
    let grpcSocketPath: string | undefined;
    if (config.grpcSocket !== undefined) {
      const { buildGrpcServer, listenUnix } = grpcApi!;
      const grpc = buildGrpcServer({ ...grpcOptions, unixSocket: true, listener: boundPrincipal !== undefined ? { boundPrincipal } : {} });
      grpcServers.push(grpc);
      grpcSocketPath = await asConfigError(() => listenUnix(grpc, config.grpcSocket!));
    }
    let minikmsAddress: string | undefined;
    let minikmsSocketPath: string | undefined;
    if (minikmsListen !== undefined || config.minikmsSocket !== undefined) {
      minikms = new MiniKmsListener({
        services: installation.services, log: installation.log, maxFrameBytes: config.minikmsMaxFrameBytes,
        requestTimeoutMs: config.requestTimeoutMs, idleTimeoutMs: config.keepAliveTimeoutMs, maxConnections: config.minikmsMaxConnections,
        accessLog: config.accessLog,
      });
      if (minikmsListen !== undefined) {
        const minikmsPort = await minikms.listenTcp(minikmsListen.host, minikmsListen.port, tls);
        minikmsAddress = `${minikmsListen.host.includes(':') ? `[${minikmsListen.host}]` : minikmsListen.host}:${minikmsPort}`;
      }
      if (config.minikmsSocket !== undefined) {
        const path = resolve(config.minikmsSocket);
        await asConfigError(() => prepareSocketDirectory(path));
        minikmsSocketPath = await minikms.listenUnix(path);
      }
    }
    let k8sKmsSocketPath: string | undefined;
    if (config.k8sKmsSocket !== undefined && config.k8sKmsKey !== undefined) {
      const { startK8sKmsPlugin } = await import('./api/k8s/index.js'); // gRPC: loaded only when configured
      const plugin = await asConfigError(() => startK8sKmsPlugin({
        services: installation.services, log: installation.log, keyId: config.k8sKmsKey!, principal: k8sPrincipal,
        maxMessageBytes: config.grpcMaxMessageBytes, idleTimeoutMs: config.keepAliveTimeoutMs, accessLog: config.accessLog,
      }, config.k8sKmsSocket!));
      grpcServers.push(plugin.server);
      k8sKmsSocketPath = plugin.path;
    }
    if (config.sigv4AllowMinimalSignedHeaders) {
      installation.log.warn('sigv4AllowMinimalSignedHeaders is on: SigV4 requests that do not sign x-amz-target and content-type are accepted, so a captured request can be replayed as another operation');
    }
    if ((await installation.seal.knownStatus(500))?.type === 'static') {
      installation.log.warn('the static seal is in use: whoever reads the root key file or this process\'s environment holds every key; use it for CI and tests only, never for data you care about');
    }
    installation.log.info({
      url, socket: socketPath, grpc: grpcAddress, grpcSocket: grpcSocketPath, minikms: minikmsAddress, minikmsSocket: minikmsSocketPath,
      k8sKmsSocket: k8sKmsSocketPath, store: installation.store.kind,
    }, 'listening');
    let closing: Promise<void> | undefined;
    let draining: Promise<void> | undefined;
    const close = () => {
      closing ??= (async () => {
        await Promise.all([...apps.map((a) => a.close()), ...grpcServers.map(shutdownGrpc), minikms?.close()]);
        await installation.close();
        unmark();
      })();
      return closing;
    };
    return {
      installation,
      url,
      ...(socketPath !== undefined ? { socketPath } : {}),
      ...(grpcAddress !== undefined ? { grpcAddress } : {}),
      ...(grpcSocketPath !== undefined ? { grpcSocketPath } : {}),
      ...(minikmsAddress !== undefined ? { minikmsAddress } : {}),
      ...(minikmsSocketPath !== undefined ? { minikmsSocketPath } : {}),
      ...(k8sKmsSocketPath !== undefined ? { k8sKmsSocketPath } : {}),
      close,
      drain() {
        // gRPC calls in flight finish within their own bound (shutdownGrpc) while HTTP drains
        draining ??= Promise.all([
          drainApps(apps, installation, config.shutdownGraceMs), ...grpcServers.map(shutdownGrpc), minikms?.drain(config.shutdownGraceMs),
        ]).then(close);
        return draining;
      },
      reloadTls() {
        if (tls === undefined) return;
        const fresh = readTlsFiles(config)!;
        // a certificate that does not match its key throws here, before anything is swapped
        createSecureContext(fresh);
        (tcp.server as unknown as TlsServer).setSecureContext(fresh);
        installation.log.info({ cert: config.tlsCert }, 'TLS certificate and key reloaded');
      },
    };
  } catch (e) {
    await Promise.all([...apps.map((a) => a.close().catch(() => undefined)), ...grpcServers.map(shutdownGrpc), minikms?.close()]);
    await installation.close();
    unmark();
    throw e;
  }
}

/** Lets calls in flight finish (bounded), then closes every connection. */
function shutdownGrpc(server: GrpcServer): Promise<void> {
  return new Promise((done) => {
    const force = setTimeout(() => server.forceShutdown(), 5000);
    server.tryShutdown(() => {
      clearTimeout(force);
      done();
    });
  });
}

/** A listener that cannot be set up is a configuration problem (exit code 2 in the CLI). */
async function asConfigError<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ListenerError) throw new ConfigError(e.message);
    throw e;
  }
}

function readTlsFiles(config: Config): { cert: Buffer; key: Buffer } | undefined {
  if (config.tlsCert === undefined || config.tlsKey === undefined) return undefined;
  return { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) };
}

/**
 * The graceful part of a stop: draining makes health answer 503 and every answer close its
 * connection; the listeners stop accepting (idle keep-alive connections close at once); requests
 * in flight get `graceMs` to finish, then whatever is still open is cut.
 */
async function drainApps(apps: readonly FastifyInstance[], installation: Installation, graceMs: number): Promise<void> {
  installation.lifecycle.draining = true;
  installation.log.info({ graceMs }, 'draining: no new connections; requests in flight may finish');
  const finished = Promise.all(apps.map((a) => new Promise<void>((done) => a.server.close(() => done()))));
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<boolean>((done) => { timer = setTimeout(() => done(true), graceMs); });
  const cut = await Promise.race([finished.then(() => false), graceOver]);
  clearTimeout(timer);
  if (cut) {
    installation.log.warn({ graceMs }, 'requests still in flight when the shutdown grace ended: their connections are cut');
    for (const a of apps) a.server.closeAllConnections();
  }
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

/** Unseal and recovery shares from init or rekey: shown once, never written anywhere. */
export interface InitSecrets {
  readonly shares?: string[];
  readonly recovery_shares?: string[];
}

/** Runs the Init operation in-process (the CLI's offline `keyward init`); a string is a passphrase. */
export async function initializeInstallation(installation: Installation, request: string | Record<string, unknown>): Promise<AdminCredentialsFile> {
  return (await initializeWithSecrets(installation, request)).credentials;
}

/** Init in-process, answering the admin credentials and the shares to print once. */
export async function initializeWithSecrets(installation: Installation, request: string | Record<string, unknown>): Promise<{ credentials: AdminCredentialsFile; secrets: InitSecrets }> {
  const body = typeof request === 'string' ? { passphrase: request } : request;
  const r = await invoke(installation.services, sys.init, { kind: 'none' }, body, LOCAL_META) as {
    tenant: string; account_id: string; principal: string; role: string;
    credentials: { access_key_id: string; secret_access_key: string; token: string };
    shares?: unknown[]; recovery_shares?: unknown[];
  };
  return {
    credentials: {
      region: installation.config.region,
      tenant: r.tenant,
      account_id: r.account_id,
      principal: r.principal,
      role: r.role,
      ...r.credentials,
      // a SecretText (bytes) in the operation's answer: this process prints it, as text
      secret_access_key: String(r.credentials.secret_access_key),
    },
    secrets: {
      // shares are SecretText (bytes) too: printed once by this process
      ...(r.shares !== undefined ? { shares: r.shares.map(String) } : {}),
      ...(r.recovery_shares !== undefined ? { recovery_shares: r.recovery_shares.map(String) } : {}),
    },
  };
}

/** Creates the root CA in-process right after init (`keyward init --pki`), as the new system admin. */
export async function createRootCaInstallation(installation: Installation, adminToken: string): Promise<{ SerialNumber: string; Certificate: string }> {
  const op = operationForTarget('Keyward.CreateRootCA');
  if (op === undefined) throw new Error('unreachable: CreateRootCA is registered');
  const r = await invoke(installation.services, op, { kind: 'bearer', token: adminToken }, {}, LOCAL_META) as { RootCA: { SerialNumber: string; Certificate: string } };
  return { SerialNumber: r.RootCA.SerialNumber, Certificate: r.RootCA.Certificate };
}

/**
 * Runs the Unseal operation in-process (the server unsealing itself at start); a string or a
 * Buffer is a passphrase (a Buffer stays the caller's to zero).
 */
export async function unsealInstallation(installation: Installation, request: string | Buffer | Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const body = typeof request === 'string' || Buffer.isBuffer(request) ? { passphrase: request } : request;
  return await invoke(installation.services, sys.unseal, { kind: 'none' }, body, LOCAL_META) as Record<string, unknown>;
}

/**
 * Auto-unseal seals (static, pkcs11, transit): unseals now and, while the HSM or the outer KMS
 * fails, retries with backoff (1 s doubling up to autoUnsealRetryMaxMs), one log line per attempt.
 * PINs and credentials given as files are read again on each attempt. An operator's seal stops
 * the retries. Answers how the first attempt went.
 */
export function autoUnsealWithRetries(installation: Installation): Promise<{ ok: boolean; error?: unknown }> {
  const { log, config } = installation;
  return installation.seal.autoUnseal({
    initialMs: Math.max(100, Math.min(1000, config.autoUnsealRetryMaxMs)),
    maxMs: config.autoUnsealRetryMaxMs,
    onAttempt: ({ n, ok, error, nextMs }) => {
      if (ok) {
        log.info({ attempt: n }, 'auto-unseal succeeded');
        return;
      }
      const err = error as { code?: string; message?: string };
      if (nextMs === undefined) log.warn({ attempt: n, code: err.code, reason: err.message }, 'auto-unseal failed; retries are off (autoUnsealRetryMaxMs 0): unseal with `keyward unseal`');
      else log.warn({ attempt: n, code: err.code, reason: err.message, retryInMs: nextMs }, 'auto-unseal failed; retrying (an operator seal stops the retries)');
    },
  });
}

/**
 * The offline `keyward change-passphrase`: checks the new passphrase first (a refused one changes
 * nothing), unseals with the current one, then re-wraps the root key.
 */
export async function changePassphraseOffline(installation: Installation, current: string, next: string): Promise<void> {
  const request = { passphrase: current, new_seal: 'passphrase', new_passphrase: next };
  checkSpec(sys.rekey.parse(new Input(request)).target);
  await unsealInstallation(installation, current);
  await rekeyInstallation(installation, request);
}

/**
 * Disaster recovery (offline, on a restored data directory): escrow shares give the root key,
 * which must open the keyring; the root key is then wrapped under the new seal `request`
 * (`new_seal`, `new_passphrase`, ...). Answers any new unseal or recovery shares.
 */
export async function recoverInstallation(installation: Installation, escrowShares: readonly string[], request: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { target } = sys.rekey.parse(new Input(request));
  const secrets = await installation.seal.recover(escrowShares, target);
  return {
    // printed once by this (CLI) process, as text
    ...(secrets.shares !== undefined ? { shares: secrets.shares.map(String) } : {}),
    ...(secrets.recoveryShares !== undefined ? { recovery_shares: secrets.recoveryShares.map(String) } : {}),
  };
}

/** Runs Rekey in-process with the system's authority. */
export async function rekeyInstallation(installation: Installation, request: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { auth, target } = sys.rekey.parse(new Input(request));
  const secrets = await installation.seal.rekey(auth, target);
  return { ...secrets };
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

/** What unseals an installation in process: a passphrase, shamir shares (one at a time), or nothing for an auto-unseal seal. */
export interface UnsealSecrets {
  readonly passphrase?: string;
  readonly shares?: readonly string[];
}

/**
 * `keyward backup --exclude-tenant`: a consistent snapshot of the store without any record of the
 * tenant (tenantRecords in keyring/paths.ts, with the indexes its records own). Telling those apart
 * needs the records decrypted, so the installation is unsealed in process, with no background work
 * and no audit records. Meant for a tenant that is deleted or pending deletion (it writes nothing new);
 * run on a restored copy of an old backup, it purges the tenant from that backup.
 */
export async function backupWithoutTenant(config: Config, file: string, tenantId: string, secretsFor: (sealType: string) => Promise<UnsealSecrets>): Promise<{ entries: number; excluded: number }> {
  refuseDefaultTenant(tenantId, 'left out');
  const installation = openInstallation({ ...config, audit: 'off' }, { background: false });
  try {
    await installation.store.ready?.();
    const status = await installation.seal.status();
    if (!status.initialized) throw new KeywardError('NotInitializedException', `${storeLabel(config.store)} holds no Keyward installation.`);
    const secrets = status.type === 'passphrase' || status.type === 'shamir' ? await secretsFor(status.type) : {};
    if (status.type === 'shamir') {
      for (const share of secrets.shares ?? []) await unsealInstallation(installation, { share });
    } else {
      await unsealInstallation(installation, secrets.passphrase !== undefined ? secrets.passphrase : {});
    }
    if (installation.seal.sealed) throw new KeywardError('SealedException', `Unsealing ${storeLabel(config.store)} needs its ${status.type ?? ''} seal's secret to find the tenant's records.`);
    const isTenants = await tenantPathMatcher(installation.barrier, tenantId);
    let excluded = 0;
    const entries = await backupStore(installation.store, file, storeLabel(config.store), new Date(), (key) => {
      if (!isTenants(key)) return true;
      excluded++;
      return false;
    });
    return { entries, excluded };
  } finally {
    await installation.close();
  }
}

/** The passphrase policy, for commands that must refuse a new passphrase before touching a store. */
export { checkPassphrase } from './seal/index.js';
