/**
 * A secret answered once (a new principal's SigV4 secret), as the bytes of its text: the HTTP
 * transport splices them into its answer without making a string of them, and wipeResult zeroes
 * them after. Anything else that serialises it (toJSON, String) gets the text, as before.
 */
export class SecretText {
  constructor(readonly bytes: Buffer) {}

  toString(): string {
    return this.bytes.toString('utf8');
  }

  toJSON(): string {
    return this.toString();
  }
}
