import { authorize } from '../authz/index.js';
import { KeywardError } from '../errors/index.js';
import { authenticate, type Credentials } from './authenticate.js';
import { Input } from './common/input.js';
import type { Operation, RequestMeta, Services } from './context.js';

/**
 * The one path every request takes, whatever the transport: refuse while sealed, authenticate,
 * authorise, validate, act. Transports call this and only translate bytes.
 */
export async function invoke(services: Services, operation: Operation, credentials: Credentials, body: unknown, meta: RequestMeta): Promise<unknown> {
  if (!operation.whileSealed && services.seal.sealed) {
    const status = await services.seal.status();
    throw status.initialized
      ? new KeywardError('SealedException', 'Keyward is sealed; unseal it (keyward unseal or POST /v1/sys/unseal) first.')
      : new KeywardError('NotInitializedException', 'Keyward is not initialized; run keyward init or POST /v1/sys/init.');
  }
  if (operation.plane === 'public') {
    const request = operation.parse(new Input(body));
    // Charged once the request is valid: only attempts that reach Argon2 cost a token.
    if (operation.expensive === true) services.rateLimits?.takeExpensive(meta.sourceAddress, operation.name);
    return operation.run({ services, meta, caller: undefined }, request);
  }
  const caller = await authenticate(services, credentials);
  services.rateLimits?.takePrincipal(`${caller.principal.tenantId}/${caller.principal.name}`);
  authorize(caller, operation.plane, operation.name);
  const request = operation.parse(new Input(body));
  return operation.run({ services, meta, caller }, request);
}
