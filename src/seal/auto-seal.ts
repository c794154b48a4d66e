/**
 * An auto-unseal seal: something outside Keyward (an HSM, another KMS) wraps and unwraps the root
 * key, so the server unseals itself at start. Built by the composition root from configuration.
 */
export interface AutoSealWrapper {
  readonly type: 'pkcs11' | 'transit';
  /** Public parameters stored beside the wrapped root key (key label, endpoint, key id). */
  describe(): Record<string, string>;
  /** Returns the wrapped root key (base64). Errors are KeywardErrors naming the cause. */
  wrap(rootKey: Buffer): Promise<string>;
  unwrap(wrapped: string): Promise<Buffer>;
}
