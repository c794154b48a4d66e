/** An error answered by Keyward (or any AWS-KMS-compatible server): match on `code`. */
export class KeywardApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly requestId: string | undefined,
  ) {
    super(message);
    this.name = code;
  }

  /** Worth retrying: throttled, or the server/its store is temporarily unavailable. */
  get transient(): boolean {
    return this.code === 'ThrottlingException' || this.code === 'DependencyTimeoutException' || this.status >= 500;
  }
}

/**
 * Keyward could not be reached at all (connection refused, timed out, reset): `code` is the
 * system's (ECONNREFUSED, ...), `status` 0, the message says what to check; the cause is attached.
 */
export class KeywardConnectionError extends KeywardApiError {
  constructor(code: string, message: string, cause: unknown) {
    super(code, message, 0, undefined);
    this.cause = cause;
  }

  override get transient(): boolean {
    return true;
  }
}

/**
 * The one error of every failed envelope or stream decryption: malformed, truncated, reordered,
 * tampered, wrong context, wrong key. It never says which (no oracle). Code as in AWS KMS.
 */
export class InvalidCiphertextError extends Error {
  readonly code = 'InvalidCiphertextException';

  constructor() {
    super('The ciphertext is invalid or cannot be decrypted with the given context.');
    this.name = 'InvalidCiphertextException';
  }
}

/** Bad input to an SDK call (names the field); thrown before anything is sent or written. */
export class KeywardUsageError extends Error {
  readonly code = 'ValidationException';

  constructor(message: string) {
    super(message);
    this.name = 'ValidationException';
  }
}

/** Runs a parse/open step and maps every failure of the ciphertext to the one error. */
export function ciphertextGuard<T>(step: () => T): T {
  try {
    return step();
  } catch (e) {
    if (e instanceof InvalidCiphertextError) throw e;
    if ((e as { code?: unknown } | undefined)?.code === 'InvalidCiphertextException' || e instanceof RangeError) throw new InvalidCiphertextError();
    throw e;
  }
}
