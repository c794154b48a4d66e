import { AuditWriteError, type AuditEvent, type AuditLog } from '../audit/index.js';
import type { Caller } from '../authz/index.js';
import { sha256Hex } from '../crypto/index.js';
import { isKeywardError, KeywardError } from '../errors/index.js';
import { sigV4Authorization, type Credentials } from './authenticate.js';
import type { AuditNotes, RequestMeta } from './context.js';

/**
 * Turns one request into one audit record. Identifiers (key ids, ARNs, enum values, numbers) are
 * recorded in the clear; every other request string (encryption context values, alias names,
 * descriptions, tags, grant tokens) only as an `hmac-sha256:` digest; secrets (plaintexts,
 * ciphertexts, passphrases, tokens, secret keys) not at all.
 */

/** Request fields never recorded, not even as digests. */
const DROPPED = new Set([
  'Plaintext', 'CiphertextBlob', 'passphrase', 'Passphrase', 'new_passphrase', 'share', 'Share', 'shares', 'SecretAccessKey',
  'secret_access_key', 'token', 'Token', 'RootKey', 'PublicKey', 'Message', 'Signature', 'Mac', 'ImportToken',
  'EncryptedKeyMaterial', 'PrivateKey',
  // a batch's items are recorded one by one, each as its own request
  'Items',
]);
/** Request fields that identify or parametrise and are recorded as they are. */
const CLEAR = new Set([
  'KeySpec', 'KeyUsage', 'CustomerMasterKeySpec', 'NumberOfBytes', 'Limit', 'PendingWindowInDays', 'RotationPeriodInDays',
  'EncryptionAlgorithm', 'SourceEncryptionAlgorithm', 'DestinationEncryptionAlgorithm', 'DryRun', 'Origin', 'Role',
  'Version', 'IncludeKeyVersions', 'Principal', 'Op', 'Chain', 'Since', 'Until', 'FromSeq', 'AfterSeq', 'OlderThanDays',
  'Tenant', 'TenantId', 'Name', 'SigningAlgorithm', 'MessageType', 'MacAlgorithm', 'KeyAgreementAlgorithm', 'KeyPairSpec',
  'WrappingAlgorithm', 'WrappingKeySpec', 'ExpirationModel', 'ValidTo', 'ImportType', 'KeyMaterialId',
  'KeyVersionId', 'SourceKeyVersionId', 'ImplicitCreate',
  'SerialNumber', 'Generation', 'Delta', 'ValidityDays',
]);
/**
 * Fields that are an enum value for one operation and free text for another (a certificate's
 * revocation reason vs a tenant's suspension reason): in the clear only as a bare identifier.
 */
const CLEAR_IF_IDENTIFIER = new Set(['Reason']);
const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
/** Key reference fields: in the clear when a key id or key ARN, digested when an alias. */
const KEY_REFS = new Set(['KeyId', 'TargetKeyId', 'DestinationKeyId', 'SourceKeyId']);
const MAX_FIELDS = 64;
const MAX_CLEAR_LENGTH = 256;

export interface AuditOutcome {
  readonly operation: string;
  readonly credentials: Credentials | undefined;
  readonly caller: Caller | undefined;
  readonly notes: AuditNotes;
  readonly body: unknown;
  readonly result: string;
}

/**
 * The audit fields of a request whose target names no operation: the caller's text only as a
 * SHA-256 digest (it is chosen by whoever sent it; the record's `op` is a fixed name).
 */
export function unknownTargetFields(target: string): Record<string, string> {
  return { Target: `sha256:${sha256Hex(target).slice(0, 32)}`, TargetLength: String(target.length) };
}

/** The error code a thrown value answers with (as the transports map it). */
export function resultCode(e: unknown): string {
  if (isKeywardError(e)) return e.code;
  const code = (e as { code?: unknown } | undefined)?.code;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return 'RequestEntityTooLargeException';
  if (typeof code === 'string' && code.startsWith('FST_ERR_CTP')) return 'SerializationException';
  return 'KMSInternalException';
}

export function auditEvent(audit: AuditLog, meta: RequestMeta, o: AuditOutcome): AuditEvent {
  const digest = (v: string) => audit.digest(v) ?? 'hmac-sha256:unavailable-while-sealed';
  return {
    requestId: meta.requestId,
    transport: meta.transport,
    // A Unix socket peer has no address; the transport says which socket it came through.
    source: typeof meta.sourceAddress === 'string' && meta.sourceAddress !== '' ? meta.sourceAddress : 'unix-socket',
    principal: o.caller?.principal.name ?? null,
    tenant: o.caller?.tenant.id ?? null,
    credential: credentialOf(o.credentials, o.caller, digest, (id) => audit.digestId(id) ?? digest(id)),
    op: o.operation,
    keyId: o.notes.keyId ?? null,
    keyVersion: o.notes.keyVersion ?? null,
    result: o.result,
    request: o.notes.record === undefined ? requestFields(o.body, digest) : { ...requestFields(o.body, digest), ...o.notes.record },
  };
}

function credentialOf(c: Credentials | undefined, caller: Caller | undefined, digest: (v: string) => string, digestId: (id: string) => string): string | null {
  if (c === undefined || c.kind === 'none') return null;
  if (c.kind === 'certificate') return `certificate:${caller?.certificateSerial ?? `sha256:${sha256Hex(c.certificate).slice(0, 32)}`}`;
  if (c.kind === 'bearer') return caller !== undefined ? `token-id:${digestId(caller.principal.tokenId)}` : `token:${digest(c.token)}`;
  if (c.kind === 'bound') return `bound-principal:${c.tenantId}/${c.name}`;
  try {
    return `access-key:${sigV4Authorization(c).accessKeyId.slice(0, 128)}`;
  } catch {
    return 'access-key:(malformed)';
  }
}

function isAlias(ref: string): boolean {
  return ref.startsWith('alias/') || /^arn:[^:]*:kms:[^:]*:[^:]*:alias\//.test(ref);
}

/** Flattens the request body into recorded fields (see the rules above). */
export function requestFields(body: unknown, digest: (v: string) => string): Record<string, string> {
  const out: Record<string, string> = {};
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return out;
  let n = 0;
  const put = (k: string, v: string) => {
    if (n++ >= MAX_FIELDS) return;
    // `__proto__` from a caller's map is a field like any other, never the record's prototype
    if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  };
  for (const [field, value] of Object.entries(body as Record<string, unknown>)) {
    if (DROPPED.has(field) || value === undefined || value === null) continue;
    if (KEY_REFS.has(field) && typeof value === 'string') {
      put(field, isAlias(value) ? digest(value) : value.slice(0, MAX_CLEAR_LENGTH));
    } else if (CLEAR.has(field) && (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')) {
      put(field, String(value).slice(0, MAX_CLEAR_LENGTH));
    } else if (CLEAR_IF_IDENTIFIER.has(field) && typeof value === 'string' && IDENTIFIER.test(value)) {
      put(field, value);
    } else if (typeof value === 'string') {
      put(field, digest(value));
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => {
        if (typeof item === 'string') put(`${field}.${i + 1}`, digest(item));
        else if (item !== null && typeof item === 'object') {
          for (const [k, v] of Object.entries(item as Record<string, unknown>)) if (typeof v === 'string') put(`${field}.${i + 1}.${k}`, digest(v));
        }
      });
    } else if (typeof value === 'object') {
      // String maps such as encryption contexts: the keys are names, the values are data. Numbers
      // and booleans (a tenant's Quotas) are parameters, recorded as they are.
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v === 'string') put(`${field}.${k.slice(0, 128)}`, digest(v));
        else if (typeof v === 'number' || typeof v === 'boolean') put(`${field}.${k.slice(0, 128)}`, String(v).slice(0, MAX_CLEAR_LENGTH));
      }
    } else {
      put(field, String(value).slice(0, MAX_CLEAR_LENGTH));
    }
  }
  return out;
}

/** The error a request gets when its audit record could not be made durable (fail closed). */
export function auditFailure(e: unknown, requestId: string): KeywardError {
  const detail = e instanceof AuditWriteError ? '' : ' (unexpected error)';
  return new KeywardError('AuditUnavailableException', `The request was refused because the audit log could not record it${detail}; the store may be read-only, full or unreachable. Request id: ${requestId}`, { cause: e });
}
