import type { AuditLog } from '../audit/index.js';
import type { Caller, Plane, SigningKeyCache } from '../authz/index.js';
import type { Clock, Keyring } from '../keyring/index.js';
import type { Pki } from '../pki/index.js';
import type { SealManager } from '../seal/index.js';
import type { Input } from './common/input.js';
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
}

/** Facts about the request that the transport knows and the operation may record. */
export interface RequestMeta {
  readonly requestId: string;
  readonly sourceAddress: string;
  readonly transport: 'http' | 'grpc' | 'local';
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
}

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

export function defineOperation<Req, Res>(op: CallerOperation<Req, Res>): CallerOperation<Req, Res>;
export function defineOperation<Req, Res>(op: PublicOperation<Req, Res>): PublicOperation<Req, Res>;
export function defineOperation<Req, Res>(op: CallerOperation<Req, Res> | PublicOperation<Req, Res>): CallerOperation<Req, Res> | PublicOperation<Req, Res> {
  return op;
}
