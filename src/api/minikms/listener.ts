import { randomUUID } from 'node:crypto';
import { chmodSync } from 'node:fs';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { accessLogger, type RequestMeta, type Services } from '../../operations/index.js';
import { MiniKmsHandler } from './handler.js';
import { errorLine } from './protocol.js';

export interface MiniKmsListenerOptions {
  readonly services: Services;
  readonly log: Logger;
  /** Longest request line, in bytes (mini-kms's default: 1 MiB); a longer one answers FrameTooLarge and closes. */
  readonly maxFrameBytes: number;
  /** A request line must be complete this long after its first byte, else the connection is closed. */
  readonly requestTimeoutMs: number;
  /** A connection with nothing in flight for this long is closed. */
  readonly idleTimeoutMs: number;
  /** Connections open at once per listener; more are refused (closed) at accept. */
  readonly maxConnections: number;
  /** One info line per request, as the HTTP access log (default on). */
  readonly accessLog?: boolean;
}

/** Queued in place of a request line that was over the limit. */
const FRAME_TOO_LARGE = Symbol('frame too large');
/** Lines a connection may have queued (pipelined) before the server stops reading from it (or maxFrameBytes of them). */
const MAX_QUEUED = 32;
const NEWLINE = 0x0a;

/**
 * mini-kms's framing on a stream socket (loopback TCP, TLS, or a Unix socket): one JSON request
 * per line, answered in order, many per connection. Bounded per connection (one partial line of
 * at most maxFrameBytes, MAX_QUEUED queued lines or maxFrameBytes of them, no reading while answers wait for the peer to
 * read) and per listener (maxConnections).
 */
export class MiniKmsListener {
  private readonly handler: MiniKmsHandler;
  private readonly servers: Server[] = [];
  private readonly connections = new Set<Connection>();
  private draining = false;

  constructor(private readonly options: MiniKmsListenerOptions) {
    this.handler = new MiniKmsHandler(options.services, options.log, accessLogger(options.log, 'minikms', options.accessLog !== false));
  }

  /** Binds host:port (0: any free port), with TLS when given; resolves with the bound port. */
  async listenTcp(host: string, port: number, tls?: { cert: Buffer; key: Buffer }): Promise<number> {
    // half-open: a client may send its requests and EOF (echo ... | socat) and still read every answer
    const server = tls === undefined ? createTcpServer({ allowHalfOpen: true }) : createTlsServer({ cert: tls.cert, key: tls.key, allowHalfOpen: true });
    server.on(tls === undefined ? 'connection' : 'secureConnection', (socket: Socket) => this.accept(socket, false));
    if (tls !== undefined) server.on('tlsClientError', (_e, socket) => socket.destroy());
    await this.bind(server, { host, port });
    const address = server.address();
    return typeof address === 'object' && address !== null ? address.port : port;
  }

  /**
   * Binds a Unix socket; the caller prepared its directory (0700, stale socket removed). The
   * socket is 0600 before this resolves.
   */
  async listenUnix(path: string): Promise<string> {
    const server = createTcpServer({ allowHalfOpen: true });
    server.on('connection', (socket: Socket) => this.accept(socket, true));
    const full = resolve(path);
    await this.bind(server, { path: full });
    chmodSync(full, 0o600);
    return full;
  }

  private bind(server: Server, where: { host: string; port: number } | { path: string }): Promise<void> {
    server.maxConnections = this.options.maxConnections;
    this.servers.push(server);
    return new Promise((done, fail) => {
      server.once('error', fail);
      server.listen(where, () => {
        server.off('error', fail);
        server.on('error', (e) => this.options.log.error({ err: e }, 'mini-kms listener error'));
        done();
      });
    });
  }

  private accept(socket: Socket, unix: boolean): void {
    if (this.draining) {
      socket.destroy();
      return;
    }
    const connection = new Connection(socket, unix, this.handler, this.options, () => this.connections.delete(connection), () => this.draining);
    this.connections.add(connection);
  }

  /**
   * Stops accepting; idle connections close now, busy ones after their current answer; after
   * `graceMs` whatever is still open is cut.
   */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    const closed = Promise.all(this.servers.map((s) => new Promise<void>((done) => s.close(() => done()))));
    for (const c of this.connections) c.endIfIdle();
    let timer: NodeJS.Timeout | undefined;
    const over = new Promise<void>((done) => { timer = setTimeout(done, graceMs); });
    await Promise.race([closed, over]);
    clearTimeout(timer);
    for (const c of this.connections) c.destroy();
    await closed;
  }

  /** Stops at once: listeners closed, every connection cut. */
  async close(): Promise<void> {
    await this.drain(0);
  }
}

class Connection {
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private readonly queue: Array<string | typeof FRAME_TOO_LARGE> = [];
  private pausedForQueue = false;
  /** Bytes of the queued lines: with the partial line, what one connection may hold is about 2 x maxFrameBytes. */
  private queuedBytes = 0;
  private busy = false;
  private closed = false;
  private requestTimer: NodeJS.Timeout | undefined;
  private readonly source: string;

  constructor(
    private readonly socket: Socket,
    private readonly unix: boolean,
    private readonly handler: MiniKmsHandler,
    private readonly options: MiniKmsListenerOptions,
    private readonly onClose: () => void,
    private readonly draining: () => boolean,
  ) {
    this.source = unix ? '' : socket.remoteAddress?.replace(/^::ffff:/, '') ?? '';
    socket.setNoDelay(true);
    socket.setTimeout(options.idleTimeoutMs, () => {
      if (!this.busy && this.queue.length === 0) socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', () => undefined);
    socket.on('end', () => {
      // the peer sent all it will: answer what is queued, then close (a partial line is dropped)
      this.partial = [];
      this.partialBytes = 0;
      this.clearRequestTimer();
      if (!this.busy && this.queue.length === 0) socket.end();
    });
    socket.on('close', () => {
      this.closed = true;
      this.clearRequestTimer();
      this.queue.length = 0;
      onClose();
    });
  }

  private receive(chunk: Buffer): void {
    if (this.closed) return;
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE, start); nl >= 0; nl = chunk.indexOf(NEWLINE, start)) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.partialBytes + piece.length > this.options.maxFrameBytes) return this.tooLarge();
      const line = this.partialBytes === 0 ? piece.toString('utf8') : Buffer.concat([...this.partial, piece]).toString('utf8');
      this.partial = [];
      this.partialBytes = 0;
      // the deadline is per line: a new partial line gets its own
      this.clearRequestTimer();
      this.enqueue(line);
    }
    const rest = chunk.subarray(start);
    if (rest.length > 0) {
      if (this.partialBytes + rest.length > this.options.maxFrameBytes) return this.tooLarge();
      // copied: the chunk's memory is the socket's
      this.partial.push(Buffer.from(rest));
      this.partialBytes += rest.length;
      this.requestTimer ??= setTimeout(() => this.socket.destroy(), this.options.requestTimeoutMs);
    } else {
      this.clearRequestTimer();
    }
    if ((this.queue.length >= MAX_QUEUED || this.queuedBytes >= this.options.maxFrameBytes) && !this.pausedForQueue) {
      this.pausedForQueue = true;
      this.socket.pause();
    }
    this.next();
  }

  private enqueue(line: string): void {
    const text = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (text.trim() === '') return;
    this.queue.push(text);
    this.queuedBytes += text.length;
  }

  /** A line over the limit: answered FrameTooLarge (after the answers before it), then the connection closes. */
  private tooLarge(): void {
    this.partial = [];
    this.partialBytes = 0;
    this.clearRequestTimer();
    this.socket.pause();
    this.queue.push(FRAME_TOO_LARGE);
    this.next();
  }

  private next(): void {
    if (this.busy || this.closed) return;
    const line = this.queue.shift();
    if (line === undefined) {
      if (this.draining() || this.socket.readableEnded) this.socket.end();
      return;
    }
    if (typeof line === 'string') this.queuedBytes -= line.length;
    if (line === FRAME_TOO_LARGE) {
      this.socket.end(errorLine('FrameTooLarge', `request frame exceeds ${this.options.maxFrameBytes} bytes`));
      this.closed = true;
      return;
    }
    this.busy = true;
    this.socket.setTimeout(0);
    const meta: RequestMeta = { requestId: randomUUID(), sourceAddress: this.source, transport: 'minikms', observed: {} };
    void this.handler.handle(line, meta).then((answer) => {
      this.busy = false;
      if (this.closed) return;
      this.socket.setTimeout(this.options.idleTimeoutMs);
      const flushed = this.socket.write(answer);
      if (this.draining()) {
        this.socket.end();
        return;
      }
      if (this.pausedForQueue && this.queue.length < MAX_QUEUED / 2 && this.queuedBytes < this.options.maxFrameBytes / 2) {
        this.pausedForQueue = false;
        this.socket.resume();
      }
      if (flushed) this.next();
      else this.socket.once('drain', () => this.next());
    });
  }

  endIfIdle(): void {
    if (!this.busy && this.queue.length === 0) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private clearRequestTimer(): void {
    if (this.requestTimer !== undefined) clearTimeout(this.requestTimer);
    this.requestTimer = undefined;
  }
}

