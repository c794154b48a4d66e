import type { IncomingMessage } from 'node:http';

/** Most bytes of an oversized body read and dropped before the 413 is sent and the connection closed. */
export const LINGER_MAX_BYTES = 16 * 1024 * 1024;
/** How long a client may pause while the rest of its oversized body is being dropped. */
export const LINGER_IDLE_MS = 2000;

/**
 * Lingering close, as nginx does it: before answering 413 and closing, read and drop the rest of
 * an oversized body (up to `maxBytes`, with at most `idleMs` between chunks). Clients that finish
 * writing before they read (Node's fetch, many SDKs) would otherwise have their connection reset
 * while still sending and never see the answer. Memory stays bounded (nothing is kept); the
 * request timeout still bounds the whole request. A body declared larger than `maxBytes` is not
 * read at all.
 */
export function discardBody(req: IncomingMessage, maxBytes = LINGER_MAX_BYTES, idleMs = LINGER_IDLE_MS): Promise<void> {
  if (req.complete || req.readableEnded || req.destroyed) return Promise.resolve();
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.resolve();
  return new Promise<void>((resolve) => {
    let seen = 0;
    const done = () => {
      clearTimeout(idle);
      req.off('data', onData);
      req.off('end', done);
      req.off('close', done);
      req.off('error', done);
      resolve();
    };
    const idle = setTimeout(done, idleMs);
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) {
        done();
        return;
      }
      idle.refresh();
    };
    req.on('data', onData);
    req.once('end', done);
    req.once('close', done);
    req.once('error', done);
    req.resume();
  });
}
