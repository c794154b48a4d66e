import { authorize, type Caller } from '../authz/index.js';
import { isKeywardError, KeywardError } from '../errors/index.js';
import { requireActiveTenant } from '../keyring/index.js';
import { auditEvent, auditFailure, resultCode } from './audit-trail.js';
import { authenticate, authenticateCached, type Credentials } from './authenticate.js';
import { Input } from './common/input.js';
import { wipeResult } from './common/wipe.js';
import type { AnyCallerOperation, AuditNotes, CallerContext, ItemOutcome, Operation, RequestMeta, Services } from './context.js';

/** Errors that already have their audit record (so a transport does not record them twice). */
const audited = new WeakSet<object>();

/**
 * The one path every request takes, whatever the transport: refuse while sealed, authenticate,
 * refuse a tenant that is suspended or pending deletion, apply the principal's and the tenant's
 * rate limits, authorise, validate, act, and record the outcome in the audit log. A request is answered only
 * once its record is durable; if it cannot be written, the request fails (fail closed).
 */
export async function invoke(services: Services, operation: Operation, credentials: Credentials, body: unknown, meta: RequestMeta): Promise<unknown> {
  const notes: AuditNotes = {};
  const writesBefore = services.stateWrites?.count;
  let caller: Caller | undefined;
  let result: unknown;
  try {
    if (!operation.whileSealed && services.seal.sealed) {
      const status = await services.seal.status();
      throw status.initialized
        ? new KeywardError('SealedException', 'Keyward is sealed; unseal it (keyward unseal or POST /v1/sys/unseal) first.')
        : new KeywardError('NotInitializedException', 'Keyward is not initialized; run keyward init or POST /v1/sys/init.');
    }
    // after the check of an unseal, a field read: no await on the hot path
    if (services.rollback !== undefined && services.rollback.state.kind !== 'ok') await refuseAfterRollback(services, operation);
    if (operation.plane === 'public') {
      // anyone may call these: they draw on the unauthenticated buckets (health probes excepted)
      if (!operation.unaudited) services.rateLimits?.takeUnauthenticated(meta.sourceAddress);
      const request = operation.parse(new Input(body));
      // Charged once the request is valid: only attempts that reach Argon2 cost a token.
      if (isExpensive(operation, request)) services.rateLimits?.takeExpensive(meta.sourceAddress, operation.name);
      result = await operation.run({ services, meta, audit: notes, caller: undefined }, request);
    } else {
      try {
        caller = authenticateCached(services, credentials) ?? await authenticate(services, credentials);
      } catch (e) {
        // missing or failing credentials cost the source (and the node) a token of the unauthenticated buckets
        services.rateLimits?.takeUnauthenticated(meta.sourceAddress);
        throw e;
      }
      if (meta.observed !== undefined) meta.observed.principal = `${caller.principal.tenantId}/${caller.principal.name}`;
      requireActiveTenant(caller.tenant);
      takeRate(services, caller);
      authorize(caller, operation.plane, operation.name);
      const request = operation.parse(new Input(body));
      result = await operation.run(callerContext(services, meta, notes, caller, operation, request, batchItems(services, credentials, caller, meta)), request);
    }
  } catch (e) {
    // A request that failed stays failed with its own error (more useful than the audit's) even
    // if its record cannot be written: fail closed is about never succeeding unaudited.
    if (meta.observed !== undefined && notes.keyId !== undefined) meta.observed.keyId = notes.keyId;
    if (!operation.unaudited) await record(services, meta, { operation: operation.name, credentials, caller, notes, body, result: resultCode(e) }, changed(services, writesBefore)).catch(() => undefined);
    if (e !== null && typeof e === 'object') audited.add(e);
    throw e;
  }
  if (notes.keyId === undefined) {
    const keyId = keyIdOfResult(result);
    if (keyId !== undefined) notes.keyId = keyId;
  }
  if (meta.observed !== undefined && notes.keyId !== undefined) meta.observed.keyId = notes.keyId;
  try {
    if (!operation.unaudited) await record(services, meta, { operation: operation.name, credentials, caller, notes, body, result: 'OK' }, changed(services, writesBefore));
  } catch (e) {
    wipeResult(result);
    throw e;
  }
  return result;
}

/** One batch item: the path of invoke() after authentication, with its own audit record. */
async function runItem(services: Services, operation: AnyCallerOperation, credentials: Credentials, caller: Caller, body: unknown, meta: RequestMeta): Promise<ItemOutcome> {
  const notes: AuditNotes = {};
  const writesBefore = services.stateWrites?.count;
  let result: unknown;
  try {
    takeRate(services, caller);
    authorize(caller, operation.plane, operation.name);
    const request: unknown = operation.parse(new Input(body));
    result = await operation.run(callerContext(services, meta, notes, caller, operation, request, noNestedBatches), request);
  } catch (e) {
    await record(services, meta, { operation: operation.name, credentials, caller, notes, body, result: resultCode(e) }, changed(services, writesBefore)).catch(() => undefined);
    if (!isKeywardError(e)) throw e;
    return { ok: false, error: e };
  }
  if (notes.keyId === undefined) {
    const keyId = keyIdOfResult(result);
    if (keyId !== undefined) notes.keyId = keyId;
  }
  try {
    await record(services, meta, { operation: operation.name, credentials, caller, notes, body, result: 'OK' }, changed(services, writesBefore));
  } catch (e) {
    wipeResult(result);
    if (!isKeywardError(e)) throw e;
    return { ok: false, error: e };
  }
  return { ok: true, result };
}

/** One request of the principal, and of its tenant: every principal of a tenant draws on the tenant's bucket too. */
function takeRate(services: Services, caller: Caller): void {
  services.rateLimits?.takePrincipal(`${caller.principal.tenantId}/${caller.principal.name}`);
  const quotas = services.keyring.tenants.quotas(caller.tenant);
  services.rateLimits?.takeTenant(caller.tenant.id, { tokens: quotas.requestsPerSecond, intervalMs: 1000, burst: quotas.burst || quotas.requestsPerSecond });
}

/** The context a caller's operation runs with: the operation, and the grant tokens the request carries. */
function callerContext(services: Services, meta: RequestMeta, notes: AuditNotes, caller: Caller, operation: AnyCallerOperation, request: unknown, subrequest: CallerContext['subrequest']): CallerContext {
  const tokens = request !== null && typeof request === 'object' ? (request as { grantTokens?: unknown }).grantTokens : undefined;
  const ctx: { -readonly [K in keyof CallerContext]: CallerContext[K] } = { services, meta, audit: notes, caller, subrequest, operation: { name: operation.name, plane: operation.plane } };
  if (Array.isArray(tokens) && tokens.every((t) => typeof t === 'string')) ctx.grantTokens = tokens as string[];
  return ctx;
}

/** Runs one item of a batch as a request of its own (CallerContext.subrequest). */
function batchItems(services: Services, credentials: Credentials, caller: Caller, meta: RequestMeta): CallerContext['subrequest'] {
  return (item, itemBody, index) => runItem(services, item, credentials, caller, itemBody, { ...meta, requestId: `${meta.requestId}#${index + 1}` });
}

const noNestedBatches: CallerContext['subrequest'] = () => Promise.reject(new KeywardError('ValidationException', 'A batch item cannot itself be a batch.'));

/**
 * Records a request that failed before reaching invoke (unknown target, malformed JSON or
 * Authorization header, oversized body, no route). Returns the error to answer with.
 */
export async function auditRejected(services: Services, meta: RequestMeta, operation: string, error: unknown, credentials?: Credentials, fields?: Record<string, string>): Promise<unknown> {
  if (error !== null && typeof error === 'object' && audited.has(error)) return error;
  // no caller was established: the unauthenticated buckets pay for it
  let answer = error;
  try {
    services.rateLimits?.takeUnauthenticated(meta.sourceAddress);
  } catch (throttled) {
    answer = throttled;
  }
  // The request fails either way; it keeps its own error if its record cannot be written.
  const notes: AuditNotes = fields === undefined ? {} : { record: fields };
  await record(services, meta, { operation, credentials, caller: undefined, notes, body: undefined, result: resultCode(answer) }).catch(() => undefined);
  return answer;
}

/**
 * Records a request a transport answered without an operation (gRPC server reflection: it
 * describes the API, never keys or tenants). Fails closed like every other record.
 */
export async function auditServed(services: Services, meta: RequestMeta, operation: string, credentials?: Credentials): Promise<void> {
  await record(services, meta, { operation, credentials, caller: undefined, notes: {}, body: undefined, result: 'OK' });
}

async function record(services: Services, meta: RequestMeta, outcome: Parameters<typeof auditEvent>[2], stateChange = false): Promise<void> {
  if (!services.audit.enabled) return;
  // Without an authenticated caller a record is bounded: past a threshold it becomes a count in
  // its source's summary. Secret checks (init, unseal) stay one record each: their own limits bound them.
  if (outcome.caller === undefined && !keptWhole(outcome) && services.auditCoalescer !== undefined) {
    const source = typeof meta.sourceAddress === 'string' && meta.sourceAddress !== '' ? meta.sourceAddress : 'unix-socket';
    if (!services.auditCoalescer.admit(source, outcome.operation, outcome.result, meta.transport)) return;
  }
  try {
    await services.audit.record(auditEvent(services.audit, meta, outcome), { stateChange });
  } catch (e) {
    const err = auditFailure(e, meta.requestId);
    audited.add(err);
    throw err;
  }
}

function keptWhole(o: Parameters<typeof auditEvent>[2]): boolean {
  return (o.operation === 'Init' || o.operation === 'Unseal') && (o.result === 'OK' || o.result === 'UnsealFailedException');
}

/** CreateKey and the like name their key only in the result (a key ARN or id). */
function keyIdOfResult(result: unknown): string | undefined {
  if (result === null || typeof result !== 'object') return undefined;
  const r = result as { KeyId?: unknown; KeyMetadata?: { KeyId?: unknown } };
  const v = typeof r.KeyMetadata?.KeyId === 'string' ? r.KeyMetadata.KeyId : r.KeyId;
  if (typeof v !== 'string') return undefined;
  const i = v.lastIndexOf(':key/');
  return i >= 0 ? v.slice(i + 5) : v;
}


function isExpensive(operation: Operation, request: unknown): boolean {
  const e = operation.expensive;
  return typeof e === 'function' ? e(request) : e === true;
}

/** Whether this process wrote state since `before` (the request's own writes, or a concurrent one's). */
function changed(services: Services, before: number | undefined): boolean {
  const writes = services.stateWrites;
  if (before === undefined || writes === undefined || writes.count === before) return false;
  // this request's record advances the epoch for every write so far
  writes.covered = Math.max(writes.covered, writes.count);
  return true;
}

/** What a node that detected a rollback still answers: the audit log, to investigate it. */
const SERVED_AFTER_ROLLBACK = new Set(['VerifyAudit', 'ListAuditRecords', 'GetAuditPublicKey', 'ListAuditPublicKeys', 'AuditHash']);

/**
 * Refuses while the store is behind this node's anchor (RollbackDetected): a rolled-back store
 * could bring back a deleted principal or a destroyed key version. Waits for the check after an
 * unseal once; afterwards it is a field read.
 */
async function refuseAfterRollback(services: Services, operation: Operation): Promise<void> {
  const guard = services.rollback;
  if (guard === undefined || operation.plane === 'public' || SERVED_AFTER_ROLLBACK.has(operation.name)) return;
  let state = guard.state;
  if (state.kind === 'unchecked') {
    try {
      state = await guard.ready();
    } catch {
      throw new KeywardError('DependencyTimeoutException', 'The store could not be compared with this node\'s anchor (it did not answer); retry.');
    }
  }
  // an operator may have accepted the store since (the anchor file says so): look again
  if (state.kind === 'detected') state = await guard.check().catch(() => state);
  if (state.kind === 'detected') {
    const first = state.findings[0]?.message ?? 'the store is behind this node\'s anchor';
    throw new KeywardError('RollbackDetectedException', `Rollback detected since ${state.since}: ${first}${state.findings.length > 1 ? ` (and ${state.findings.length - 1} more)` : ''}. Key operations are refused until an operator checks the store and runs keyward audit accept-rollback on this node.`);
  }
}
