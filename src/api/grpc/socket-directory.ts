import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

// Apart from listen.ts so that the HTTP Unix socket (server.ts) uses it without loading grpc-js.

export class ListenerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ListenerError';
  }
}

/** The socket lives in a directory only the owner may enter (0700); a stale socket is replaced. */
export function prepareSocketDirectory(socketPath: string): void {
  const dir = dirname(socketPath);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  const mode = statSync(dir).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new ListenerError(`the socket directory ${dir} is accessible to others (mode ${mode.toString(8)}); use a directory with mode 0700`);
  }
  if (existsSync(socketPath)) rmSync(socketPath);
}
