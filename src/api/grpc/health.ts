import { EventEmitter } from 'node:events';
import type { ServerWritableStream, handleServerStreamingCall } from '@grpc/grpc-js';
import { KeywardError } from '../../errors/index.js';
import { invoke, sys, type RequestMeta } from '../../operations/index.js';
import { requestMeta } from './request-meta.js';
import { failure, unaryCall, type GrpcEnv, type Implementation } from './unary.js';

type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/**
 * grpc.health.v1.Health: SERVING while Keyward is initialised and unsealed, NOT_SERVING while
 * sealed (or not initialised), for the server as a whole ("") and for each service it offers.
 * A check is the Health operation (audited like GET /v1/sys/health); Watch answers at once and
 * again whenever this node seals or unseals.
 */
export function healthService(env: GrpcEnv, serviceNames: readonly string[]): Implementation {
  const known = new Set(['', ...serviceNames]);
  const changes = new EventEmitter();
  changes.setMaxListeners(0);
  env.services.seal.onSealed(() => changes.emit('change'));
  env.services.seal.onUnsealed(() => changes.emit('change'));

  const status = async (meta: RequestMeta, service: string): Promise<ServingStatus> => {
    const r = await invoke(env.services, sys.health, { kind: 'none' }, {}, meta) as { initialized: boolean; sealed: boolean };
    if (!known.has(service)) return 'SERVICE_UNKNOWN';
    return r.initialized && !r.sealed ? 'SERVING' : 'NOT_SERVING';
  };

  const check = unaryCall(env, 'Health', async (request: { service?: string }, _credentials, meta) => {
    const s = await status(meta, request.service ?? '');
    if (s === 'SERVICE_UNKNOWN') {
      throw new KeywardError('NotFoundException', `No service named ${JSON.stringify((request.service ?? '').slice(0, 128))}; the health of "" is the whole server's.`);
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
