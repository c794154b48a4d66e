import type { AuditLog } from '../audit/index.js';
import type { KeywardError } from '../errors/index.js';
import type { Caller, Plane, SigningKeyCache, SigV4Policy } from '../authz/index.js';
import type { Clock, Keyring } from '../keyring/index.js';
import type { Pki } from '../pki/index.js';
import type { SealManager } from '../seal/index.js';
import type { StoreHealth, StoreTimings } from '../storage/index.js';
import type { Input } from './common/input.js';
import type { AuditCoalescer } from './common/audit-coalescer.js';
import type { RateLimits } from './common/rate-limits.js';

/** Everything an operation may use: wired once by the composition root (src/server.ts). */
export interface Services {
  readonly keyring: Keyring;
  /** The CA hierarchy: certificates, revocation, and client-certificate identities. */
  readonly pki: Pki;
  readonly seal: SealManager;
  readonly clock: Clock;
  readonly signingKeys: SigningKeyCache;
  /** Records every request (invoke.ts); fails closed. */
  readonly audit: AuditLog;
  /** Identifies this node in logs and responses. */
  readonly nodeId: string;
  readonly version: string;
  /** Per-principal and per-address request rates; absent means unlimited. */
  readonly rateLimits?: RateLimits;
  /** Bounds the audit records of requests without an authenticated caller; absent: one record each. */
  readonly auditCoalescer?: AuditCoalescer;
  /** Scopes: the usage limit per version that new scope keys get. */
  readonly scopeMaxEncryptions: number;
  /** What SigV4 signatures must cover (regions, bound headers); absent: the strict defaults. */
  readonly sigv4?: SigV4Policy;
  /** Where the node is in its life: draining (stopping) makes health answer 503. */
  readonly lifecycle?: NodeLifecycle;
  /** Whether the store answers, from what it already knows (no round trip); absent: always. */
  readonly storeHealth?: () => StoreHealth;
  /** Times every store call (the store latency metric); absent: not timed. */
  readonly storeTimings?: StoreTimings;
}

/** Set by the composition root when the node starts to stop (SIGTERM). */
export interface NodeLifecycle {
  draining: boolean;
}

/** Facts about the request that the transport knows and the operation may record. */
export interface RequestMeta {
  readonly requestId: string;
  readonly sourceAddress: string;
  readonly transport: 'http' | 'grpc' | 'minikms' | 'local';
  /** Filled by invoke for the transport's access log: who asked, about which key (never a secret). */
  readonly observed?: { principal?: string; keyId?: string };
}

/** What an operation tells the audit record about the key it used (filled as it goes). */
export interface AuditNotes {
  keyId?: string;
  keyVersion?: number;
  /** Facts the operation adds to the record's request fields, in the clear (a certificate's serial and subject). */
  record?: Record<string, string>;
}

export interface OperationContext {
  readonly services: Services;
  readonly meta: RequestMeta;
  readonly audit: AuditNotes;
  /** Undefined only for public operations. */
  readonly caller: Caller | undefined;
}

/** A context whose caller is known (every non-public operation runs with one). */
export interface CallerContext extends OperationContext {
  readonly caller: Caller;
  /** The operation being run (its name is the key policy action unless an operation names another). */
  readonly operation: { readonly name: string; readonly plane: Plane };
  /** The request's GrantTokens, if it has them: grants they name count at once. */
  readonly grantTokens?: readonly string[];
  /**
   * Runs one item of a batch as a request of its own: authorised, validated, run and audited
   * like that operation sent alone (request id `<batch request id>#<index + 1>`). Failures the
   * caller can see come back as the item's error; anything else fails the whole batch.
   */
  readonly subrequest: (operation: AnyCallerOperation, body: unknown, index: number) => Promise<ItemOutcome>;
}

/** What one batch item answered. */
export type ItemOutcome =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly error: KeywardError };

export type Namespace = 'TrentService' | 'Keyward';

interface OperationBase<Req> {
  readonly name: string;
  readonly namespace: Namespace;
  /** Whether the operation works while sealed (public sys operations). Default: no. */
  readonly whileSealed?: boolean;
  /**
   * Whether this request is costly for the server whoever calls (Argon2, combining shares): such
   * requests are rate-limited per source address, once they are known to be valid.
   */
  readonly expensive?: boolean | ((request: Req) => boolean);
  /**
   * Not written to the audit log (health probes: many, anonymous, state-free). A probe must
   * never wait on, or fail with, the store the audit log writes to.
   */
  readonly unaudited?: boolean;
  parse(input: Input): Req;
}

/** An operation anyone may call (health, seal status, init, unseal). */
export interface PublicOperation<Req = unknown, Res = unknown> extends OperationBase<Req> {
  readonly plane: 'public';
  run(ctx: OperationContext, request: Req): Promise<Res>;
}

/** An operation of an authenticated, authorised caller. */
export interface CallerOperation<Req = unknown, Res = unknown> extends OperationBase<Req> {
  readonly plane: Exclude<Plane, 'public'>;
  run(ctx: CallerContext, request: Req): Promise<Res>;
}

/**
 * One API operation, transport-agnostic: `parse` validates the request body (throwing
 * ValidationException naming the field) and `run` acts. Results are plain objects whose Buffer
 * fields transports encode (base64 in JSON).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Operation = PublicOperation<any, unknown> | CallerOperation<any, unknown>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCallerOperation = CallerOperation<any, unknown>;

export function defineOperation<Req, Res>(op: CallerOperation<Req, Res>): CallerOperation<Req, Res>;
export function defineOperation<Req, Res>(op: PublicOperation<Req, Res>): PublicOperation<Req, Res>;
export function defineOperation<Req, Res>(op: CallerOperation<Req, Res> | PublicOperation<Req, Res>): CallerOperation<Req, Res> | PublicOperation<Req, Res> {
  return op;
}
