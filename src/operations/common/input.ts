import { KeywardError, quote } from '../../errors/index.js';

/**
 * Reads and validates one request's fields, naming the field in every error. Unknown fields are
 * ignored (newer SDKs add optional members); wrong types, bad base64 and out-of-range values are
 * ValidationException, never a 500.
 */
type Raw = Record<string, unknown>;

interface LengthRule {
  readonly min?: number;
  readonly max?: number;
}

/** A UTF-16 surrogate not part of a pair (with the u flag, a pair is one code point outside Cs). */
const LONE_SURROGATE = /\p{Cs}/u;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}|[A-Za-z0-9+/]{3})?$/;

/** A member's name as AWS spells it in validation messages: each segment with a lower-case first letter ('keySpec'). */
export function awsFieldName(field: string): string {
  return field.split('.').map((part) => part.charAt(0).toLowerCase() + part.slice(1)).join('.');
}

export function invalid(field: string, constraint: string, value?: string): KeywardError {
  const shown = value === undefined ? '' : ` '${value.length > 256 ? `${value.slice(0, 256)}...` : value}'`;
  return new KeywardError('ValidationException', `1 validation error detected: Value${shown} at '${awsFieldName(field)}' failed to satisfy constraint: ${constraint}`);
}

export class Input {
  private readonly raw: Raw;

  /** `at`: the path of a nested object's fields in errors (`Quotas.`). */
  constructor(body: unknown, private readonly at = '') {
    if (body === undefined || body === null) this.raw = {};
    else if (typeof body === 'object' && !Array.isArray(body)) this.raw = body as Raw;
    else throw new KeywardError('SerializationException', 'The request body must be a JSON object.');
  }

  /** A nested object, read with its own Input whose errors name `field.member`. */
  object(field: string): Input | undefined {
    const v = this.raw[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) throw invalid(this.at + field, 'Member must be an object');
    return new Input(v, `${this.at}${field}.`);
  }

  /** Refuses members other than `known` (for Keyward's own shapes, where a typo must not pass silently). */
  onlyMembers(known: readonly string[]): void {
    const extra = Object.keys(this.raw).find((k) => !known.includes(k));
    if (extra !== undefined) throw invalid(`${this.at}${quote(extra)}`, `Member is not one of ${known.join(', ')}`);
  }

  has(field: string): boolean {
    return this.raw[field] !== undefined && this.raw[field] !== null;
  }

  /** For fields that may be a name or a number (a revocation reason). */
  isNumber(field: string): boolean {
    return typeof this.raw[field] === 'number';
  }

  string(field: string, rule: LengthRule & { readonly pattern?: RegExp; readonly patternText?: string } = {}): string | undefined {
    const v = this.raw[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw invalid(this.at + field, 'Member must be a string');
    checkLength(this.at + field, v.length, rule, 'characters');
    if (rule.pattern && !rule.pattern.test(v)) throw invalid(this.at + field, `Member must satisfy regular expression pattern: ${rule.patternText ?? rule.pattern.source}`);
    return v;
  }

  /** A secret: text (JSON transports), or a Buffer from an in-process caller, which zeroes it after use. */
  secret(field: string, rule: LengthRule = {}): string | Buffer | undefined {
    const v = this.raw[field];
    if (Buffer.isBuffer(v)) {
      checkLength(this.at + field, v.length, rule, 'bytes');
      return v;
    }
    return this.string(field, rule);
  }

  /** A list of secrets (shares): each text, or a Buffer from a transport that read it as bytes (the transport zeroes it). */
  secretList(field: string, rule: LengthRule & { readonly itemMax?: number } = {}): Array<string | Buffer> | undefined {
    const v = this.raw[field];
    if (!Array.isArray(v) || !v.some((item) => Buffer.isBuffer(item))) return this.stringList(field, rule);
    checkLength(this.at + field, v.length, rule, 'members');
    return v.map((item: unknown, i) => {
      if (!Buffer.isBuffer(item)) throw invalid(`${this.at}${field}.${i + 1}`, 'Member must be a string');
      if (rule.itemMax !== undefined && item.length > rule.itemMax) throw invalid(`${this.at}${field}.${i + 1}`, `Member must have length less than or equal to ${rule.itemMax}`);
      return item;
    });
  }

  requiredString(field: string, rule: LengthRule & { readonly pattern?: RegExp; readonly patternText?: string } = {}): string {
    const v = this.string(field, rule);
    if (v === undefined) throw invalid(this.at + field, 'Member must not be null');
    return v;
  }

  /**
   * A blob: base64 text (JSON transports) or bytes (transports that carry bytes, such as gRPC);
   * length limits apply to the decoded bytes.
   */
  blob(field: string, rule: LengthRule = {}): Buffer | undefined {
    const v = this.raw[field];
    if (v === undefined || v === null) return undefined;
    if (v instanceof Uint8Array) {
      const bytes = Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      checkLength(this.at + field, bytes.length, rule, 'bytes');
      return bytes;
    }
    if (typeof v !== 'string') throw invalid(this.at + field, 'Member must be a base64-encoded string');
    if (!BASE64.test(v)) throw invalid(this.at + field, 'Member must be valid base64');
    const bytes = Buffer.from(v, 'base64');
    checkLength(this.at + field, bytes.length, rule, 'bytes');
    return bytes;
  }

  requiredBlob(field: string, rule: LengthRule = {}): Buffer {
    const v = this.blob(field, rule);
    if (v === undefined) throw invalid(this.at + field, 'Member must not be null');
    return v;
  }

  integer(field: string, range: { readonly min: number; readonly max: number }): number | undefined {
    const v = this.raw[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw invalid(this.at + field, 'Member must be an integer');
    if (v < range.min) throw invalid(this.at + field, `Member must have value greater than or equal to ${range.min}`);
    if (v > range.max) throw invalid(this.at + field, `Member must have value less than or equal to ${range.max}`);
    return v;
  }

  boolean(field: string): boolean | undefined {
    const v = this.raw[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') throw invalid(this.at + field, 'Member must be a boolean');
    return v;
  }

  oneOf<T extends string>(field: string, values: readonly T[]): T | undefined {
    const v = this.string(field);
    if (v === undefined) return undefined;
    if (!(values as readonly string[]).includes(v)) throw invalid(this.at + field, `Member must satisfy enum value set: [${values.join(', ')}]`, v);
    return v as T;
  }

  /** A list of enum values; a value outside the set names the whole list, as AWS does. */
  oneOfList<T extends string>(field: string, values: readonly T[], rule: LengthRule = {}): T[] | undefined {
    const list = this.stringList(field, rule);
    if (list === undefined) return undefined;
    if (list.some((v) => !(values as readonly string[]).includes(v))) {
      throw invalid(this.at + field, `Member must satisfy constraint: [Member must satisfy enum value set: [${values.join(', ')}]]`, `[${list.join(', ')}]`);
    }
    return list as T[];
  }

  requiredOneOf<T extends string>(field: string, values: readonly T[]): T {
    const v = this.oneOf(field, values);
    if (v === undefined) throw invalid(field, 'Member must not be null');
    return v;
  }

  /** An AWS timestamp: epoch seconds (the JSON protocol's encoding), possibly fractional. */
  timestamp(field: string): Date | undefined {
    const v = this.raw[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(field, 'Member must be a timestamp in epoch seconds');
    return new Date(v * 1000);
  }

  /** A string-to-string map such as an encryption context. */
  stringMap(field: string, rule: { readonly maxEntries?: number; readonly maxKey?: number; readonly maxValue?: number } = {}): Record<string, string> | undefined {
    const v = this.raw[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) throw invalid(this.at + field, 'Member must be a map of strings to strings');
    const out: Record<string, string> = {};
    const entries = Object.entries(v as Raw);
    if (rule.maxEntries !== undefined && entries.length > rule.maxEntries) throw invalid(this.at + field, `Member must have at most ${rule.maxEntries} entries`);
    for (const [k, val] of entries) {
      if (typeof val !== 'string') throw invalid(`${this.at}${field}.${quote(k)}`, 'Member must be a string');
      // a lone UTF-16 surrogate becomes U+FFFD in UTF-8, so two different maps would encode alike
      if (LONE_SURROGATE.test(k) || LONE_SURROGATE.test(val)) throw invalid(this.at + field, 'Keys and values must be well-formed Unicode (no lone UTF-16 surrogates)');
      if (k.length === 0 || (rule.maxKey !== undefined && k.length > rule.maxKey)) throw invalid(this.at + field, `Keys must have length between 1 and ${rule.maxKey ?? 'unbounded'}`);
      if (rule.maxValue !== undefined && val.length > rule.maxValue) throw invalid(`${this.at}${field}.${quote(k)}`, `Member must have length less than or equal to ${rule.maxValue}`);
      Object.defineProperty(out, k, { value: val, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }

  stringList(field: string, rule: LengthRule & { readonly itemMax?: number } = {}): string[] | undefined {
    const v = this.raw[field];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) throw invalid(this.at + field, 'Member must be a list of strings');
    checkLength(this.at + field, v.length, rule, 'members');
    return v.map((item, i) => {
      if (typeof item !== 'string') throw invalid(`${this.at}${field}.${i + 1}`, 'Member must be a string');
      if (rule.itemMax !== undefined && item.length > rule.itemMax) throw invalid(`${this.at}${field}.${i + 1}`, `Member must have length less than or equal to ${rule.itemMax}`);
      return item;
    });
  }

  /** A list of objects, each read with its own Input. */
  objectList(field: string, rule: LengthRule = {}): Input[] | undefined {
    return this.objects(field, rule)?.map((item) => new Input(item));
  }

  /** A list of objects as they are (batch items, each validated later by its own operation). */
  objects(field: string, rule: LengthRule = {}): Raw[] | undefined {
    const v = this.raw[field];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) throw invalid(this.at + field, 'Member must be a list');
    checkLength(this.at + field, v.length, rule, 'members');
    return v.map((item: unknown, i) => {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) throw invalid(`${this.at}${field}.${i + 1}`, 'Member must be an object');
      return item as Raw;
    });
  }
}

function checkLength(field: string, length: number, rule: LengthRule, unit: string): void {
  if (rule.min !== undefined && length < rule.min) throw invalid(field, `Member must have length greater than or equal to ${rule.min}`);
  if (rule.max !== undefined && length > rule.max) throw invalid(field, `Member must have length less than or equal to ${rule.max} ${unit}`);
}
