import { EventEmitter } from 'node:events';
import type { ServerWritableStream, handleServerStreamingCall } from '@grpc/grpc-js';
import { KeywardError, quote } from '../../errors/index.js';
import { invoke, sys, type RequestMeta } from '../../operations/index.js';
import { requestMeta } from './request-meta.js';
import { failure, unaryCall, type GrpcEnv, type Implementation } from './unary.js';

type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/**
 * grpc.health.v1.Health: SERVING when GET /v1/sys/health would answer 200 (initialised, unsealed,
 * not draining, store reachable), else NOT_SERVING, for the server as a whole ("") and for each
 * service it offers. A check is the Health operation; Watch answers at once and again whenever
 * this node seals or unseals.
 */
export function healthService(env: GrpcEnv, serviceNames: readonly string[]): Implementation {
  const known = new Set(['', ...serviceNames]);
  const changes = new EventEmitter();
  changes.setMaxListeners(0);
  env.services.seal.onSealed(() => changes.emit('change'));
  env.services.seal.onUnsealed(() => changes.emit('change'));

  const status = async (meta: RequestMeta, service: string): Promise<ServingStatus> => {
    const r = await invoke(env.services, sys.health, { kind: 'none' }, {}, meta) as { initialized: boolean; sealed: boolean; draining?: boolean; store?: string };
    if (!known.has(service)) return 'SERVICE_UNKNOWN';
    // the same answer as GET /v1/sys/health's 200: initialised, unsealed, not draining, store reachable
    return r.initialized && !r.sealed && r.draining !== true && r.store === undefined ? 'SERVING' : 'NOT_SERVING';
  };

  const check = unaryCall(env, 'Health', async (request: { service?: string }, _credentials, meta) => {
    const s = await status(meta, request.service ?? '');
    if (s === 'SERVICE_UNKNOWN') {
      throw new KeywardError('NotFoundException', `No service named ${quote(request.service ?? '')}; the health of "" is the whole server's.`);
    }
    return { status: s };
  });

  const watch: handleServerStreamingCall<{ service?: string }, { status: ServingStatus }> = (call: ServerWritableStream<{ service?: string }, { status: ServingStatus }>) => {
    const service = call.request.service ?? '';
    let last: ServingStatus | undefined;
    let ended = false;
    const send = () => {
      const meta = requestMeta(call.getPeer(), env.unixSocket);
      status(meta, service).then((s) => {
        if (ended || s === last) return;
        last = s;
        call.write({ status: s });
      }, (e: unknown) => {
        if (ended) return;
        ended = true;
        changes.off('change', send);
        call.emit('error', failure(env, e, meta.requestId, 'Health'));
      });
    };
    changes.on('change', send);
    call.on('cancelled', () => {
      ended = true;
      changes.off('change', send);
    });
    send();
  };

  const list = unaryCall(env, 'Health', async (_request: unknown, _credentials, meta) => {
    const s = await status(meta, '');
    return { statuses: Object.fromEntries([...known].map((name) => [name, { status: s }])) };
  });

  return { check, watch, list } as Implementation;
}
