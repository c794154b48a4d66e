import { KeywardError } from '../../errors/index.js';

/**
 * mini-kms's wire contract (newline-delimited JSON, one object per line each way): the request
 * and response field names, request types and error codes, exactly as mini-kms's documentation
 * gives them. Everything here is shape; meaning is in handler.ts.
 */
export const ERROR_CODES = ['AuthFailed', 'Unauthorized', 'InvalidRequest', 'DecryptionFailed', 'FrameTooLarge', 'InternalError'] as const;
export type MiniKmsErrorCode = (typeof ERROR_CODES)[number];

export const DATA_TYPES = ['GenerateDataKey', 'Encrypt', 'Decrypt', 'ReEncrypt', 'Health', 'Ping'] as const;
export const CONTROL_TYPES = ['CreateKeyGroup', 'RotateKeyGroup', 'ListKeyGroups', 'DisableVersion', 'EnableVersion', 'DestroyVersion'] as const;
export type RequestType = (typeof DATA_TYPES)[number] | (typeof CONTROL_TYPES)[number];

const TYPES = new Set<string>([...DATA_TYPES, ...CONTROL_TYPES]);
const CONTROL = new Set<string>(CONTROL_TYPES);

export function isControl(type: RequestType): boolean {
  return CONTROL.has(type);
}

export interface MiniKmsRequest {
  readonly type: RequestType;
  readonly token: string | undefined;
  /** The key group; undefined: the default group (data operations) or none given. */
  readonly keyId: string | undefined;
  readonly version: number | undefined;
  readonly plaintext: Buffer | undefined;
  readonly ciphertext: Buffer | undefined;
  /** The aad exactly as sent (canonical base64); undefined or empty: none. */
  readonly aad: string | undefined;
}

/** Canonical base64 (RFC 4648 section 4, padded): the only form mini-kms's clients send. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** A key group name: one alias segment of Keyward (alias/<group>). */
export const GROUP = /^[A-Za-z0-9_-]{1,250}$/;

const refusedByAdapter = new WeakSet<object>();

/** A request the adapter refuses before any operation runs: ValidationException, answered InvalidRequest. */
export function invalidRequest(message: string): KeywardError {
  const e = new KeywardError('ValidationException', message);
  refusedByAdapter.add(e);
  return e;
}

/** Whether the error is the adapter's own refusal of the request's shape (not an operation's). */
export function isShapeError(e: unknown): boolean {
  return e !== null && typeof e === 'object' && refusedByAdapter.has(e);
}

/** The request type of a line that at least names one (for the audit record of a refusal). */
export function typeOf(value: unknown): RequestType | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const t = (value as { type?: unknown }).type;
  return typeof t === 'string' && TYPES.has(t) ? t as RequestType : undefined;
}

/** Parses one request line; every problem is a ValidationException naming the field. */
export function parseRequest(line: string): MiniKmsRequest {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw invalidRequest('the request is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidRequest('the request must be a JSON object');
  const r = value as Record<string, unknown>;
  if (r.type === undefined || r.type === null) throw invalidRequest('type is required');
  if (typeof r.type !== 'string') throw invalidRequest('type must be a string');
  if (!TYPES.has(r.type)) throw invalidRequest(`unknown type ${JSON.stringify(r.type.slice(0, 64))}; expected one of ${[...TYPES].join(', ')}`);
  const keyId = optionalString(r, 'keyId');
  if (keyId !== undefined && !GROUP.test(keyId)) throw invalidRequest("keyId must be a key group name: 1-250 characters of A-Z, a-z, 0-9, '_' and '-'");
  let version: number | undefined;
  if (r.version !== undefined && r.version !== null) {
    if (typeof r.version !== 'number' || !Number.isInteger(r.version) || r.version < 1 || r.version > 0xffffffff) throw invalidRequest('version must be a positive integer');
    version = r.version;
  }
  const aad = optionalString(r, 'aad');
  if (aad !== undefined && !BASE64.test(aad)) throw invalidRequest('aad must be base64');
  return {
    type: r.type as RequestType,
    token: optionalString(r, 'token'),
    keyId,
    version,
    plaintext: optionalBase64(r, 'plaintext'),
    ciphertext: optionalBase64(r, 'ciphertext'),
    aad: aad === '' ? undefined : aad,
  };
}

function optionalString(r: Record<string, unknown>, field: string): string | undefined {
  const v = r[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalidRequest(`${field} must be a string`);
  return v;
}

function optionalBase64(r: Record<string, unknown>, field: string): Buffer | undefined {
  const v = optionalString(r, field);
  if (v === undefined) return undefined;
  if (!BASE64.test(v)) throw invalidRequest(`${field} must be base64`);
  return Buffer.from(v, 'base64');
}

/** One response line (with its newline). */
export function okLine(fields: Record<string, unknown>): string {
  return `${JSON.stringify({ status: 'ok', ...fields })}\n`;
}

export function errorLine(code: MiniKmsErrorCode, message: string): string {
  return `${JSON.stringify({ status: 'error', errorCode: code, message })}\n`;
}
