import { randomUUID } from 'node:crypto';
import type { RequestMeta } from '../../operations/index.js';

/**
 * The request facts the audit record keeps: a fresh request id and the peer's address (without
 * its port; empty on a Unix socket, which the audit record then names as such).
 */
export function requestMeta(peer: string, unixSocket: boolean): RequestMeta {
  // observed: invoke notes the principal and key id there for the access log
  return { requestId: randomUUID(), sourceAddress: unixSocket ? '' : peerAddress(peer), transport: 'grpc', observed: {} };
}

/** The last peer seen and its address: a connection's calls come in runs with the same peer. */
let lastPeer = '';
let lastAddress = '';

/** `127.0.0.1:5000` -> `127.0.0.1`, `[::1]:5000` -> `::1`, `ipv4:...` prefixes dropped. */
export function peerAddress(peer: string): string {
  if (peer !== lastPeer) {
    lastAddress = parsePeer(peer);
    lastPeer = peer;
  }
  return lastAddress;
}

function parsePeer(peer: string): string {
  const p = peer.replace(/^ipv[46]:/, '');
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(p);
  if (bracket) return bracket[1]!;
  const colon = p.lastIndexOf(':');
  return colon > 0 && p.indexOf(':') === colon ? p.slice(0, colon) : p;
}
