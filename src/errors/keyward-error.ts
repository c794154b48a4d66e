import { ERROR_CODES, type ErrorCode, type ErrorCodeSpec } from './codes.js';

/**
 * The one error type operations throw. Callers match on `code`, never on `message`.
 * Messages must never contain secrets (plaintexts, keys, tokens, passphrases).
 */
export class KeywardError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = code;
    this.code = code;
  }

  get spec(): ErrorCodeSpec {
    return ERROR_CODES[this.code];
  }
}

export function isKeywardError(e: unknown): e is KeywardError {
  return e instanceof KeywardError;
}

/** The single, detail-free error of every failed decryption (DESIGN.md section 4: no oracle). */
export function invalidCiphertext(): KeywardError {
  return new KeywardError('InvalidCiphertextException', 'The ciphertext is invalid or cannot be decrypted with the given context.');
}
