import { connect, type Socket } from 'node:net';

/**
 * A mini-kms protocol client as its users have one: a stream socket (TCP or Unix), one JSON
 * object per line each way. No Keyward code involved.
 */
export class NdjsonClient {
  private buffer = '';
  private readonly lines: string[] = [];
  private waiters: Array<() => void> = [];
  private ended = false;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      for (let nl = this.buffer.indexOf('\n'); nl >= 0; nl = this.buffer.indexOf('\n')) {
        this.lines.push(this.buffer.slice(0, nl));
        this.buffer = this.buffer.slice(nl + 1);
      }
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  /** `{ port, host }` for TCP, `{ path }` for a Unix socket. */
  static open(to: { host: string; port: number } | { path: string }): Promise<NdjsonClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(to as { path: string });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new NdjsonClient(socket));
      });
    });
  }

  /** Whether the server closed the connection. */
  get closed(): boolean {
    return this.ended;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  write(raw: string | Buffer): void {
    this.socket.write(raw);
  }

  /** The next answer line, parsed; undefined if the server closed first. Bounded by `timeoutMs`. */
  async next(timeoutMs = 30_000): Promise<Record<string, unknown> | undefined> {
    const end = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.ended) return undefined;
      if (Date.now() > end) throw new Error('no answer line within the deadline');
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, end - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return JSON.parse(this.lines.shift()!) as Record<string, unknown>;
  }

  /** The raw next line (to check exact bytes). */
  async nextRaw(timeoutMs = 30_000): Promise<string | undefined> {
    const parsed = await this.next(timeoutMs);
    return parsed === undefined ? undefined : JSON.stringify(parsed);
  }

  /** Sends one request object and answers its response. */
  async call(request: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.write(`${JSON.stringify(request)}\n`);
    const answer = await this.next();
    if (answer === undefined) throw new Error('the server closed the connection');
    return answer;
  }

  /** Waits (bounded) until the server closes the connection; answers whether it did. */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (!this.ended && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    return this.ended;
  }

  close(): void {
    this.socket.destroy();
  }
}
