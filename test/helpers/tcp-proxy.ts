import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP proxy in front of a real service, to cut it off (every connection reset, new
 * ones refused) and bring it back on the same port: a database outage without stopping the
 * database other tests share.
 */
/** One connection through the proxy, as the proxy saw it. */
export interface ProxiedConnection {
  /** The client's first bytes (up to 1 KiB): a PostgreSQL startup message names the application_name. */
  readonly hello: Buffer;
  /** Bytes the client sent and bytes the service answered on this connection. */
  readonly sent: number;
  readonly answered: number;
}

export interface TcpProxy {
  readonly port: number;
  /** Bytes relayed so far, both directions (a round trip to the service moves at least one). */
  readonly bytes: number;
  /** Every connection made through the proxy so far (open or closed). */
  readonly connections: readonly ProxiedConnection[];
  /** Stops relaying data on open connections without closing them (a silent partition). */
  freeze(): void;
  /** Resets every open connection and refuses new ones. */
  cut(): Promise<void>;
  /** Accepts connections again on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  let bytes = 0;
  let frozen = false;
  const connections: Array<{ hello: Buffer; sent: number; answered: number }> = [];
  const listen = async () => {
    const s = createServer((client) => {
      const upstream = connect(targetPort, targetHost);
      const seen = { hello: Buffer.alloc(0), sent: 0, answered: 0 };
      connections.push(seen);
      for (const sock of [client, upstream]) {
        sockets.add(sock);
        sock.on('close', () => sockets.delete(sock));
        sock.on('error', () => undefined);
      }
      client.on('data', (c: Buffer) => {
        bytes += c.length;
        seen.sent += c.length;
        if (seen.hello.length < 1024) seen.hello = Buffer.concat([seen.hello, c]).subarray(0, 1024);
        if (!frozen) upstream.write(c);
      });
      upstream.on('data', (c: Buffer) => {
        bytes += c.length;
        seen.answered += c.length;
        if (!frozen) client.write(c);
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    const address = s.address();
    if (typeof address === 'object' && address !== null) port = address.port;
    server = s;
  };
  const stop = async () => {
    const s = server;
    server = undefined;
    for (const sock of sockets) sock.resetAndDestroy();
    sockets.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();
  return {
    get port() { return port; },
    get bytes() { return bytes; },
    get connections() { return connections; },
    freeze() { frozen = true; },
    cut: async () => { frozen = false; await stop(); },
    restore: async () => { frozen = false; await listen(); },
    close: stop,
  };
}
