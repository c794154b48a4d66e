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
