import { KeywardError } from '../../errors/index.js';
import { JsonSecretsError, parseJsonWithSecrets } from '../../format/json-secrets.js';

/** Members of /v1/sys bodies that carry a secret: read as bytes, never as strings. */
const SYS_SECRETS = new Set(['passphrase', 'new_passphrase', 'share', 'shares']);

/**
 * Reads a /v1/sys request body (JSON) with its secrets (passphrases, shares) as Buffers the
 * transport zeroes after the operation (wipeResult), so none of them ever becomes a string that
 * stays in the heap after a seal. The other members are read as JSON.parse reads them.
 */
export function readSysBody(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  try {
    return parseJsonWithSecrets(body, SYS_SECRETS);
  } catch (e) {
    if (e instanceof JsonSecretsError) throw new KeywardError('SerializationException', `The request body is not valid JSON (${e.message}).`);
    throw e;
  }
}
