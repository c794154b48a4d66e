import { chmodSync } from 'node:fs';
import { resolve } from 'node:path';
import { ServerCredentials, type Server } from '@grpc/grpc-js';
import { prepareSocketDirectory } from './socket-directory.js';

export { ListenerError, prepareSocketDirectory } from './socket-directory.js';

export interface TlsFiles {
  readonly cert: Buffer;
  readonly key: Buffer;
}

function bind(server: Server, address: string, credentials: ServerCredentials): Promise<number> {
  return new Promise((resolveBind, reject) => {
    server.bindAsync(address, credentials, (e, port) => (e ? reject(e) : resolveBind(port)));
  });
}

/**
 * TLS that asks for a client certificate without requiring one (tokens keep working on the same
 * listener). grpc-js shows a call the peer's certificate only once OpenSSL has verified it, so
 * the trust anchors (the root and the tenant CAs, from the PKI) are set with trust() and follow
 * CA changes; Keyward's PKI then judges the certificate (revocation, principal, role) per call.
 */
export class ClientCertificateCredentials extends ServerCredentials {
  constructor(private readonly tls: TlsFiles) {
    super({ requestCert: true, rejectUnauthorized: false }, { cert: tls.cert, key: tls.key });
  }

  /** Certificates (PEM or DER) a client certificate may chain to; none until the PKI is readable. */
  trust(anchors: readonly Buffer[]): void {
    this.updateSecureContextOptions({ cert: this.tls.cert, key: this.tls.key, ...(anchors.length > 0 ? { ca: [...anchors] } : {}) });
  }

  _equals(other: ServerCredentials): boolean {
    return other === this;
  }
}

/** Binds host:port (port 0 picks one), with TLS when given (or these credentials); resolves with the bound port. */
export function listenTcp(server: Server, host: string, port: number, tls?: TlsFiles, mtls?: ClientCertificateCredentials): Promise<number> {
  const credentials = mtls ?? (tls === undefined ? ServerCredentials.createInsecure() : ServerCredentials.createSsl(null, [{ cert_chain: tls.cert, private_key: tls.key }], false));
  return bind(server, `${host.includes(':') ? `[${host}]` : host}:${port}`, credentials);
}

/**
 * Binds a Unix socket: mode 0600 in a directory only its owner may enter (0700, created if
 * missing; refused if others can enter it); a stale socket file from an earlier run is replaced.
 */
export async function listenUnix(server: Server, socketPath: string): Promise<string> {
  const path = resolve(socketPath);
  prepareSocketDirectory(path);
  await bind(server, `unix:${path}`, ServerCredentials.createInsecure());
  chmodSync(path, 0o600);
  return path;
}
