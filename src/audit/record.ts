import { sha256Hex } from '../crypto/index.js';

/**
 * One audit record as stored and shipped. Every field is a string, an integer or null, and
 * `request` is a flat string map (sensitive values already reduced to `hmac-sha256:` digests),
 * so the canonical encoding below is unambiguous.
 */
/** What the request path knows about one request; sensitive values are already digests. */
export interface AuditEvent {
  readonly requestId: string;
  readonly transport: string;
  readonly source: string;
  readonly principal: string | null;
  readonly tenant: string | null;
  /** How the caller authenticated: an access key id, or a token id's digest. */
  readonly credential: string | null;
  readonly op: string;
  readonly keyId: string | null;
  readonly keyVersion: number | null;
  /** `OK` or the error code answered. */
  readonly result: string;
  /** Request parameters worth recording: ids in the clear, everything else as digests. */
  readonly request: Readonly<Record<string, string>>;
}

export interface AuditRecordBody extends AuditEvent {
  readonly type: 'record';
  readonly v: 1;
  /** The chain this record belongs to (one per node id). */
  readonly chain: string;
  readonly seq: number;
  /** ISO 8601 time the request finished. */
  readonly time: string;
  /** The process that served the request. */
  readonly node: string;
  /** Hash of the previous record of the chain (64 zeros for the first). */
  readonly prev: string;
}

export interface AuditRecord extends AuditRecordBody {
  /** SHA-256 (hex) of the canonical encoding of every other field. */
  readonly hash: string;
}

/** A signed statement "the chain's record `seq` has hash `head`". */
export interface AuditCheckpointBody {
  readonly type: 'checkpoint';
  readonly v: 1;
  readonly chain: string;
  readonly seq: number;
  readonly head: string;
  readonly time: string;
  /**
   * periodic: every N records or T ms; final: written on shutdown (nothing follows until the
   * chain is resumed); anchor: marks the start of what retention kept.
   */
  readonly kind: 'periodic' | 'final' | 'anchor';
  /** The policy in force, so a verifier can tell a stale unsigned tail. */
  readonly everyRecords: number;
  readonly everyMs: number;
  /** SHA-256 (hex) of the signing public key (SPKI DER): which checkpoint key version signed. */
  readonly keyFingerprint: string;
  /** The checkpoint key version that signed (absent in checkpoints signed before keys had versions: version 1). */
  readonly keyVersion?: number;
}

export interface AuditCheckpoint extends AuditCheckpointBody {
  /** Ed25519 signature (base64) over the canonical encoding of every other field. */
  readonly sig: string;
}

export type AuditEntry = AuditRecord | AuditCheckpoint;

export const GENESIS_HASH = '0'.repeat(64);
/** The first record a process writes when it continues an existing chain. */
export const RESUME_OPERATION = 'AuditChainResumed';

/**
 * Canonical JSON: object keys sorted by code unit, no whitespace, JSON.stringify's escaping of
 * strings. Only strings, safe integers, booleans, null, arrays and plain objects are allowed.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string': return JSON.stringify(value);
    case 'boolean': return value ? 'true' : 'false';
    case 'number':
      if (!Number.isSafeInteger(value)) throw new Error(`canonical JSON allows only safe integers, got ${value}`);
      return String(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
    }
    default:
      throw new Error(`canonical JSON cannot encode a ${typeof value}`);
  }
}

/** The record's hash: SHA-256 over the canonical encoding without the `hash` field. */
export function recordHash(body: AuditRecordBody | AuditRecord): string {
  const { hash: _ignored, ...rest } = body as AuditRecord;
  return sha256Hex(canonicalJson(rest));
}

export function withHash(body: AuditRecordBody): AuditRecord {
  return { ...body, hash: recordHash(body) };
}

/**
 * JSON encodings of the strings the records of one write batch repeat (its chain, node and time;
 * a batch request's principal, tenant, credential, operation and key id), each encoded once.
 * Lives for one batch, so its size is bounded by the batch's.
 */
export class JsonStrings {
  private readonly encoded = new Map<string, string>();

  of(value: string | null): string {
    if (value === null) return 'null';
    let out = this.encoded.get(value);
    if (out === undefined) {
      out = JSON.stringify(value);
      this.encoded.set(value, out);
    }
    return out;
  }
}

/** The canonical encoding of a record without `hash`, in the two runs around the place of `hash`. */
function recordParts(body: AuditRecordBody, strings: JsonStrings): [before: string, after: string] {
  const j = (v: string | null) => strings.of(v);
  const before = `{"chain":${j(body.chain)},"credential":${j(body.credential)}`;
  const after = `,"keyId":${j(body.keyId)},"keyVersion":${canonicalJson(body.keyVersion)},"node":${j(body.node)},"op":${j(body.op)},"prev":${JSON.stringify(body.prev)},"principal":${j(body.principal)},"request":${canonicalJson(body.request)},"requestId":${JSON.stringify(body.requestId)},"result":${j(body.result)},"seq":${canonicalJson(body.seq)},"source":${j(body.source)},"tenant":${j(body.tenant)},"time":${j(body.time)},"transport":${j(body.transport)},"type":"record","v":1}`;
  return [before, after];
}

/**
 * The record with its hash and its canonical encoding, computed together (the hot path): the
 * encoding with `hash` is the one without it plus the field at its sorted place (after
 * `credential`, before `keyId`), so the record is serialised once.
 */
export function sealRecord(body: AuditRecordBody, strings: JsonStrings = new JsonStrings()): { record: AuditRecord; encoded: string } {
  const [before, after] = recordParts(body, strings);
  const hash = sha256Hex(before + after);
  return { record: { ...body, hash }, encoded: `${before},"hash":${JSON.stringify(hash)}${after}` };
}

/** `,"hash":"` + 64 hex digits + `"` */
const HASH_FIELD_BYTES = 74;
const HASH_FIELD_START = Buffer.from(',"hash":"', 'latin1');
/** UTF-8 of one record without its hash: grown as needed, reused (records hold digests, no secrets). */
let scratch = Buffer.allocUnsafeSlow(4096);

/**
 * sealRecord's hash and the encoding's UTF-8 bytes, as the store takes them (the audit log's hot
 * path): the text without `hash` is encoded once, hashed, and copied around the hash field, so
 * no second string is built nor encoded. Exactly Buffer.from(sealRecord(body).encoded).
 */
export function sealRecordBytes(body: AuditRecordBody, strings: JsonStrings): { hash: string; bytes: Buffer } {
  const [before, after] = recordParts(body, strings);
  // a UTF-16 code unit is at most 3 bytes of UTF-8 (a surrogate pair, 2 units, is 4)
  const room = 3 * (before.length + after.length);
  if (scratch.length < room) scratch = Buffer.allocUnsafeSlow(Math.max(room, 2 * scratch.length));
  const n1 = scratch.write(before, 0, 'utf8');
  const n2 = scratch.write(after, n1, 'utf8');
  const hash = sha256Hex(scratch.subarray(0, n1 + n2));
  const bytes = Buffer.allocUnsafe(n1 + HASH_FIELD_BYTES + n2);
  scratch.copy(bytes, 0, 0, n1);
  HASH_FIELD_START.copy(bytes, n1);
  bytes.write(hash, n1 + HASH_FIELD_START.length, 'latin1');
  bytes[n1 + HASH_FIELD_BYTES - 1] = 0x22; // "
  scratch.copy(bytes, n1 + HASH_FIELD_BYTES, n1, n1 + n2);
  return { hash, bytes };
}

/** The bytes a checkpoint's signature covers. */
export function checkpointSigningBytes(cp: AuditCheckpointBody | AuditCheckpoint): Buffer {
  const { sig: _ignored, ...rest } = cp as AuditCheckpoint;
  return Buffer.from(canonicalJson(rest), 'utf8');
}

export function encodeEntry(entry: AuditEntry): string {
  return canonicalJson(entry);
}

/** Parses one stored or shipped entry; throws with a reason when it is not one. */
export function parseEntry(text: string): AuditEntry {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error('not valid JSON');
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('not a JSON object');
  const o = raw as Record<string, unknown>;
  if (o.v !== 1) throw new Error(`unknown audit entry version ${JSON.stringify(o.v)}`);
  if (typeof o.chain !== 'string' || typeof o.seq !== 'number' || !Number.isSafeInteger(o.seq)) throw new Error('missing chain or seq');
  if (o.type === 'record') {
    if (typeof o.hash !== 'string' || typeof o.prev !== 'string') throw new Error('record without hash or prev');
    return o as unknown as AuditRecord;
  }
  if (o.type === 'checkpoint') {
    if (typeof o.sig !== 'string' || typeof o.head !== 'string') throw new Error('checkpoint without sig or head');
    return o as unknown as AuditCheckpoint;
  }
  throw new Error(`unknown audit entry type ${JSON.stringify(o.type)}`);
}
