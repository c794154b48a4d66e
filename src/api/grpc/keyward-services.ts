import type { ServiceDefinition } from '@grpc/grpc-js';
import { invoke, operationForTarget } from '../../operations/index.js';
import type { MessageShapes } from './shapes.js';
import { unaryCall, type GrpcEnv, type Implementation } from './unary.js';

/**
 * Keyward's own services (proto/keyward/v1): every RPC is the operation of the same name (an
 * AWS operation, else a Keyward one), its messages the AWS shapes in snake_case.
 */
export function keywardService(env: GrpcEnv, shapes: MessageShapes, definition: ServiceDefinition): Implementation {
  const impl: Implementation = {};
  for (const [name, method] of Object.entries(definition)) {
    const op = operationForTarget(`TrentService.${name}`) ?? operationForTarget(`Keyward.${name}`);
    if (op === undefined) throw new Error(`${method.path} names no operation`);
    const pkg = method.path.slice(1, method.path.lastIndexOf('.', method.path.indexOf('/', 1)));
    const types = method as unknown as { requestType: unknown; responseType: unknown };
    const requestType = `${pkg}.${messageName(types.requestType)}`;
    const responseType = `${pkg}.${messageName(types.responseType)}`;
    impl[name] = unaryCall(env, op.name, async (request: unknown, credentials, meta) => {
      const result = await invoke(env.services, op, credentials, shapes.toInput(requestType, request), meta);
      return shapes.toMessage(responseType, result);
    });
  }
  return impl;
}

function messageName(type: unknown): string {
  const name = (type as { type?: { name?: unknown } } | undefined)?.type?.name;
  if (typeof name !== 'string') throw new Error('a method of the loaded protos has no message type name');
  return name;
}
