import type { Metadata } from '@grpc/grpc-js';
import { KeywardError, quote } from '../../errors/index.js';
import type { Credentials } from '../../operations/index.js';

/** What a listener itself vouches for, whatever the caller sends. */
export interface ListenerIdentity {
  /** A principal bound to the listener (a Unix socket whose file mode is the credential). */
  readonly boundPrincipal?: { readonly tenantId: string; readonly name: string };
}

/**
 * Turns what the transport knows about the caller into Credentials for operations/authenticate:
 * `authorization: Bearer <token>` metadata first, else a client certificate from the TLS handshake
 * (mTLS; operations judge its chain), else the listener's bound principal.
 */
export function credentialsOf(metadata: Metadata, listener: ListenerIdentity, peerCertificate?: Buffer): Credentials {
  const values = metadata.get('authorization');
  if (values.length > 1) throw new KeywardError('IncompleteSignatureException', 'The request carries more than one authorization metadata entry.');
  const raw = values[0];
  if (raw === undefined || raw === '') {
    if (peerCertificate !== undefined) return { kind: 'certificate', certificate: peerCertificate };
    return listener.boundPrincipal !== undefined ? { kind: 'bound', ...listener.boundPrincipal } : { kind: 'none' };
  }
  const value = typeof raw === 'string' ? raw : raw.toString('utf8');
  if (value.startsWith('Bearer ')) return { kind: 'bearer', token: value.slice(7).trim() };
  throw new KeywardError('IncompleteSignatureException', 'The authorization metadata must be Bearer <token> (SigV4 signs HTTP requests; use a bearer token over gRPC).');
}

/**
 * `NAME` (a principal of the default tenant) or `TENANT/NAME`, as --grpc-socket-principal takes it.
 */
export function parseBoundPrincipal(value: string): { tenantId: string; name: string } {
  const slash = value.indexOf('/');
  const tenantId = slash < 0 ? 'default' : value.slice(0, slash);
  const name = slash < 0 ? value : value.slice(slash + 1);
  if (tenantId === '' || name === '' || name.includes('/')) {
    throw new KeywardError('ValidationException', `A bound principal is NAME or TENANT/NAME, got ${quote(value)}.`);
  }
  return { tenantId, name };
}
