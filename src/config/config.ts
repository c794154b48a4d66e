import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * One validated configuration. Precedence: command-line flags > environment (KEYWARD_*) >
 * config file (JSON, --config / KEYWARD_CONFIG) > defaults. Secrets (passphrases, tokens) are
 * never configuration: they come from env, files or a prompt, and never from argv.
 */
/** A boolean setting: true/false or 1/0 from env and flags, a JSON boolean from the file. */
function flag() {
  return z.preprocess((v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v), z.boolean());
}

const schema = z.object({
  dataDir: z.string().min(1).default('./.keyward'),
  /** `sqlite` (in dataDir), `sqlite:PATH`, `postgres://...` (shared by many nodes), or `memory` (nothing persists). */
  store: z.string().min(1).default('sqlite'),
  /** Deadline of every round trip to a networked store (PostgreSQL): connecting, each statement. */
  storeTimeoutMs: z.coerce.number().int().min(100).max(120_000).default(2000),
  listen: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'listen must be HOST:PORT').default('127.0.0.1:9123'),
  socket: z.string().min(1).optional(),
  /** gRPC listener (Keyward's and the miniKMS-compatible services), HOST:PORT; off unless set. */
  grpcListen: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'grpcListen must be HOST:PORT').optional(),
  /** gRPC on a Unix socket too (0600, in a 0700 directory). */
  grpcSocket: z.string().min(1).optional(),
  /** Calls on the gRPC socket without a token act as this principal (NAME or TENANT/NAME): the socket's mode is the credential. */
  grpcSocketPrincipal: z.string().min(1).max(200).optional(),
  /** Largest gRPC request message accepted, in bytes. */
  grpcMaxMessageBytes: z.coerce.number().int().min(1024).max(64 * 1024 * 1024).default(4 * 1024 * 1024),
  /** mini-kms's NDJSON protocol on TCP, HOST:PORT (loopback, or TLS with tlsCert); off unless set. */
  minikmsListen: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'minikmsListen must be HOST:PORT').optional(),
  /** mini-kms's NDJSON protocol on a Unix socket (0600, in a 0700 directory). */
  minikmsSocket: z.string().min(1).optional(),
  /** Longest mini-kms request line, in bytes (mini-kms's default, 1 MiB); longer answers FrameTooLarge and closes. */
  minikmsMaxFrameBytes: z.coerce.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
  /** Open mini-kms connections per listener; more are closed at accept. */
  minikmsMaxConnections: z.coerce.number().int().min(1).max(1_000_000).default(1024),
  /** The Kubernetes KMS v2 plugin (v2.KeyManagementService) on this Unix socket; off unless set. */
  k8sKmsSocket: z.string().min(1).optional(),
  /** The key the plugin encrypts under: alias/NAME (or a key id) in the bound principal's tenant. */
  k8sKmsKey: z.string().min(1).max(2048).optional(),
  /** The principal the plugin's calls act as (NAME or TENANT/NAME; the socket's mode is the credential). */
  k8sKmsPrincipal: z.string().min(1).max(200).default('k8s-kms'),
  tlsCert: z.string().min(1).optional(),
  tlsKey: z.string().min(1).optional(),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'region must look like us-east-1').default('us-east-1'),
  /** Regions a SigV4 credential scope may name, comma-separated (multi-region setups); default: `region` only. */
  sigv4Regions: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+(,[a-z]{2}(-[a-z]+)+-\d+)*$/, 'sigv4Regions must be regions like us-east-1,eu-west-1').optional(),
  /**
   * Accept SigV4 signatures that cover only host and x-amz-date (some small signing libraries).
   * Off by default: then x-amz-target and content-type must be signed when present, so a captured
   * request cannot be re-targeted to another operation. Logged once at start when on.
   */
  sigv4AllowMinimalSignedHeaders: flag().default(false),
  bodyLimit: z.coerce.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** One info line per HTTP request (request id, principal, operation, key id, status, duration; never a secret). */
  accessLog: flag().default(true),
  nodeId: z.string().min(1).max(64).optional(),
  /** Bounded as the seal bounds what it reads from the store (seal/passphrase-seal.ts ARGON2_LIMITS). */
  argon2MemoryKiB: z.coerce.number().int().min(8).max(1024 * 1024).default(64 * 1024),
  argon2Iterations: z.coerce.number().int().min(1).max(16).default(3),
  argon2Parallelism: z.coerce.number().int().min(1).max(16).default(1),
  metadataCacheMax: z.coerce.number().int().min(1).default(100_000),
  metadataCacheTtlMs: z.coerce.number().int().min(0).default(5 * 60_000),
  materialCacheMax: z.coerce.number().int().min(1).default(10_000),
  materialCacheTtlMs: z.coerce.number().int().min(0).default(15 * 60_000),
  schedulerIntervalMs: z.coerce.number().int().min(100).default(60_000),
  headersTimeoutMs: z.coerce.number().int().min(100).default(10_000),
  requestTimeoutMs: z.coerce.number().int().min(100).default(30_000),
  keepAliveTimeoutMs: z.coerce.number().int().min(100).default(65_000),
  /** On SIGTERM: how long requests in flight may take to finish before their connections are cut. */
  shutdownGraceMs: z.coerce.number().int().min(0).max(600_000).default(10_000),
  /** Static seal: file holding the 64-hex-character key (else env KEYWARD_ROOT_KEY). */
  rootKeyFile: z.string().min(1).optional(),
  /** PKCS#11 seal: module, token (label or slot), key label; the PIN is env KEYWARD_PKCS11_PIN or pkcs11PinFile. */
  pkcs11Module: z.string().min(1).optional(),
  pkcs11TokenLabel: z.string().min(1).max(32).optional(),
  pkcs11Slot: z.coerce.number().int().min(0).optional(),
  pkcs11KeyLabel: z.string().min(1).max(128).default('keyward-root-key'),
  pkcs11PinFile: z.string().min(1).optional(),
  /** At init or migration only: create the HSM key when the token has none by that label. */
  pkcs11GenerateKey: flag().default(false),
  /** Transit seal: the outer KMS; credentials from env KEYWARD_TRANSIT_ACCESS_KEY_ID/_SECRET_ACCESS_KEY or transitCredentialsFile. */
  transitEndpoint: z.string().url().optional(),
  transitKeyId: z.string().min(1).max(2048).optional(),
  transitRegion: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'transitRegion must look like us-east-1').default('us-east-1'),
  /** JSON file with access_key_id and secret_access_key (the shape of admin-credentials.json). */
  transitCredentialsFile: z.string().min(1).optional(),
  transitTimeoutMs: z.coerce.number().int().min(100).default(10_000),
  /** Auto-unseal seals: after a failed unseal, retry after 1 s, doubling up to this (an operator seal stops it); 0: no retries. */
  autoUnsealRetryMaxMs: z.coerce.number().int().min(0).max(3_600_000).default(60_000),
  /** A barrier term rotates automatically after this many encryptions (below the AES-GCM 2^32 bound). */
  barrierRotateAfter: z.coerce.number().int().min(2).max(4_000_000_000).default(3_500_000_000),
  /** Encryptions reserved (persisted) per block; a crash forfeits at most one block. */
  barrierReserveBlock: z.coerce.number().int().min(1).default(100_000),
  /** Background re-wrap after a barrier rotation: records per batch and pause between batches. */
  barrierRewrapBatch: z.coerce.number().int().min(1).max(1000).default(100),
  barrierRewrapPauseMs: z.coerce.number().int().min(0).default(0),
  /** After a root-key rotation, how long other nodes on the store may follow it with the old root key. */
  rootRotationGraceMs: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
  /** Scopes (named keys created on first use): at most this many encryptions per key version, then the key rotates (miniKMS's default, 2^30). Applies to scopes created from then on. */
  scopeMaxEncryptions: z.coerce.number().int().min(1).max(2 ** 32 - 1).default(2 ** 30),
  /** Encryptions a node reserves at a time per scope key version (one store write per block; a stopped node forfeits the rest). */
  scopeReserveBlock: z.coerce.number().int().min(1).max(1_000_000).default(1000),
  /** Audit log: `on` (every request is recorded, fail closed) or `off` (benchmark comparisons only). */
  audit: z.enum(['on', 'off']).default('on'),
  /**
   * When an audit batch counts as durable on SQLite: `fsync` (on disk, survives a power loss) or
   * `os` (handed to the OS: survives a crash of Keyward, not of the machine; much faster on slow
   * or busy disks).
   */
  auditSync: z.enum(['fsync', 'os']).default('fsync'),
  /** Sign the audit chain head every this many records ... */
  auditCheckpointRecords: z.coerce.number().int().min(1).max(1_000_000).default(1000),
  /** ... or every this many milliseconds. */
  auditCheckpointMs: z.coerce.number().int().min(100).max(86_400_000).default(10_000),
  /**
   * How long an audit batch may wait for more records before it is committed (audit-log.ts
   * gatherBatch). Unset: 1 ms in a --workers process, 0 (never waits) in a single process.
   */
  auditCommitDelayMs: z.coerce.number().int().min(0).max(100).optional(),
  /** Also append every audit entry to this JSON-lines file (for a SIEM). */
  auditFile: z.string().min(1).optional(),
  /** When the audit file is fsynced: after every batch, at most every second, or never. */
  auditFileFsync: z.enum(['always', 'interval', 'never']).default('always'),
  /**
   * Where retention writes the audit records it prunes (default: <dataDir>/audit-export). With many
   * nodes, point every node at one shared location: each file names the node that wrote it.
   */
  auditExportDir: z.string().min(1).optional(),
  /** How often each node compares the store with its anchor file (besides at every unseal). */
  rollbackCheckMs: z.coerce.number().int().min(1000).max(86_400_000).default(60_000),
  /** Export and prune audit records older than this many days (hourly check); unset: keep all. */
  auditRetentionDays: z.coerce.number().int().min(1).max(36_500).optional(),
  /** Requests per second each principal may send (token bucket); 0 turns the limit off. */
  rateLimitPerSecond: z.coerce.number().min(0).default(5_500),
  /** How many requests a principal may send at once above its rate (the bucket size). */
  rateLimitBurst: z.coerce.number().int().min(1).default(11_000),
  /**
   * Quotas of every tenant but `default` (which is unlimited unless given its own with
   * UpdateTenant); UpdateTenant overrides them per tenant. 0 means unlimited.
   */
  tenantMaxKeys: z.coerce.number().int().min(0).default(100_000),
  tenantMaxPrincipals: z.coerce.number().int().min(0).default(10_000),
  /** Requests per second all principals of one tenant share, on each node (token bucket); 0: off. */
  tenantRequestsPerSecond: z.coerce.number().int().min(0).default(5_500),
  /** The tenant bucket's size; 0: one second's worth. */
  tenantBurst: z.coerce.number().int().min(0).default(11_000),
  /** Init/unseal attempts per minute from one address (Argon2 is costly); 0 turns the limit off. */
  unsealRatePerMinute: z.coerce.number().min(0).default(10),
  unsealBurst: z.coerce.number().int().min(1).default(10),
  /**
   * Failed secret checks (a wrong passphrase or shares for unseal, escrow, rekey, rotate-root) the
   * whole node allows per minute, whatever the source address (0: off), and the bucket's size ...
   */
  secretFailuresPerMinute: z.coerce.number().min(0).default(6),
  secretFailuresBurst: z.coerce.number().int().min(1).default(20),
  /** ... and per source network (/24 for IPv4, /64 for IPv6). */
  secretFailuresPerNetworkPerMinute: z.coerce.number().min(0).default(3),
  secretFailuresNetworkBurst: z.coerce.number().int().min(1).default(10),
  /** Requests without an authenticated caller (none, or failing) per second from one address (0: off) ... */
  unauthenticatedPerSecond: z.coerce.number().min(0).default(50),
  unauthenticatedBurst: z.coerce.number().int().min(1).default(200),
  /** ... and from all addresses together. */
  unauthenticatedGlobalPerSecond: z.coerce.number().min(0).default(500),
  unauthenticatedGlobalBurst: z.coerce.number().int().min(1).default(2000),
  /**
   * Audit records of requests without an authenticated caller: per interval, the first this many
   * of each source (and auditCoalesceGlobal of all) are recorded one by one, the rest counted in
   * one CoalescedRequests record per source at the end of the interval. auditCoalesceGlobal 0: off.
   */
  auditCoalescePerSource: z.coerce.number().int().min(0).default(20),
  auditCoalesceGlobal: z.coerce.number().int().min(0).default(1000),
  auditCoalesceIntervalMs: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
  /**
   * Browser origins (scheme://host[:port], comma-separated) besides the listener's own that may
   * call /v1/sys/* (a console served elsewhere). Requests with any other Origin are refused.
   */
  sysAllowedOrigins: z.string().regex(/^https?:\/\/[^,\s/]+(,https?:\/\/[^,\s/]+)*$/, 'sysAllowedOrigins must be origins like https://console.example.com, comma-separated').optional(),
  /**
   * mTLS: the HTTPS (and gRPC) listeners request client certificates and accept member
   * certificates chaining to this root: `auto` (Keyward's own root CA) or a PEM file.
   */
  tlsClientCa: z.string().min(1).optional(),
  /** Public base URL of the installation (https://kms.example.com): issued certificates carry its CRL and OCSP URLs. */
  pkiPublicUrl: z.string().url().optional(),
  /** Default validity periods of the root CA, tenant CAs and member certificates, in days. */
  pkiRootValidityDays: z.coerce.number().int().min(1).max(36_500).default(3650),
  pkiTenantCaValidityDays: z.coerce.number().int().min(1).max(36_500).default(1825),
  pkiMemberValidityDays: z.coerce.number().int().min(1).max(36_500).default(365),
  /** CRLs are issued per period of this many hours (they stay valid for two periods). */
  pkiCrlPeriodHours: z.coerce.number().int().min(1).max(24 * 31).default(24),
});

export type Config = z.infer<typeof schema>;
export type ConfigInput = Partial<Record<keyof Config, string | number | undefined>>;

/** KEYWARD_* variable for each setting (KEYWARD_DATA_DIR, KEYWARD_ARGON2_MEMORY_KIB, ...). */
export function envName(key: keyof Config): string {
  return `KEYWARD_${key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function loadConfig(flags: ConfigInput = {}, env: NodeJS.ProcessEnv = process.env, configFile?: string): Config {
  const file = configFile ?? env.KEYWARD_CONFIG;
  const fromFile = file === undefined ? {} : readConfigFile(file);
  const fromEnv: Record<string, string> = {};
  for (const key of Object.keys(schema.shape) as Array<keyof Config>) {
    const v = env[envName(key)];
    if (v !== undefined && v !== '') fromEnv[key] = v;
  }
  const fromFlags = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
  const result = schema.safeParse({ ...fromFile, ...fromEnv, ...fromFlags });
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${issues.join('; ')}`);
  }
  if ((result.data.tlsCert === undefined) !== (result.data.tlsKey === undefined)) {
    throw new ConfigError('invalid configuration: tlsCert and tlsKey must be given together');
  }
  if (result.data.tlsClientCa !== undefined && result.data.tlsCert === undefined) {
    throw new ConfigError('invalid configuration: tlsClientCa (mTLS) needs TLS: set tlsCert and tlsKey too');
  }
  if (result.data.transitEndpoint !== undefined) {
    const endpoint = new URL(result.data.transitEndpoint);
    // the root key travels to the outer KMS and back: in the clear only on this machine
    if (endpoint.protocol !== 'https:' && !(endpoint.protocol === 'http:' && isLoopback(endpoint.hostname.replace(/^\[(.*)\]$/, '$1')))) {
      throw new ConfigError(`invalid configuration: transitEndpoint ${endpoint.origin} is plain http to a non-loopback address; the transit seal needs https there (http only to 127.0.0.1, ::1 or localhost)`);
    }
  }
  if (result.data.grpcSocketPrincipal !== undefined && result.data.grpcSocket === undefined) {
    throw new ConfigError('invalid configuration: grpcSocketPrincipal binds the gRPC Unix socket, so it needs grpcSocket');
  }
  if (result.data.k8sKmsSocket !== undefined && result.data.k8sKmsKey === undefined) {
    throw new ConfigError('invalid configuration: k8sKmsSocket needs k8sKmsKey (alias/NAME of the key Secrets are encrypted under)');
  }
  return result.data;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${path}: ${(e as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    const known = new Set(Object.keys(schema.shape));
    const unknown = Object.keys(parsed).filter((k) => !known.has(k));
    if (unknown.length > 0) throw new Error(`unknown settings: ${unknown.join(', ')}`);
    return parsed as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(`config file ${path} is not a valid JSON settings object: ${(e as Error).message}`);
  }
}

/** Host and port of `listen`; hosts in brackets are IPv6. */
export function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(listen.slice(i + 1)) };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
