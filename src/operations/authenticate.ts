import { isSigV4, parseAuthorization, verifySigV4, type Caller, type SignedRequest, type SigV4Authorization } from '../authz/index.js';
import { KeywardError, quote } from '../errors/index.js';
import type { PrincipalRecord } from '../keyring/index.js';
import type { Services } from './context.js';

/**
 * What the transport found in the request to prove who is calling. Each transport turns what it
 * knows about the peer into one of these.
 */
export type Credentials =
  | { readonly kind: 'none' }
  | { readonly kind: 'bearer'; readonly token: string }
  | { readonly kind: 'sigv4'; readonly authorization: string; readonly request: SignedRequest }
  /** A listener bound to one principal (a Unix socket whose file mode is the credential). */
  | { readonly kind: 'bound'; readonly tenantId: string; readonly name: string }
  /** A client certificate (DER) whose private key the TLS handshake proved; the chain is checked here. */
  | { readonly kind: 'certificate'; readonly certificate: Buffer };

const unrecognized = () => new KeywardError('UnrecognizedClientException', 'The security token included in the request is invalid.');

/** SigV4 headers already parsed, by credentials: authentication and the audit record read it once. */
const parsedSigV4 = new WeakMap<Credentials, SigV4Authorization>();
/**
 * What a client's Authorization headers share from one request to the next (everything before the
 * signature: access key id, scope, signed headers), parsed once. Bounded; keyed by what the
 * client sent, so a flood of distinct headers only empties it.
 */
const parsedPrefixes = new Map<string, SigV4Authorization>();
const MAX_PARSED_PREFIXES = 1024;
const SIGNATURE_FIELD = 'Signature=';
const SIGNATURE_LENGTH = 64;
const PLACEHOLDER_SIGNATURE = '0'.repeat(SIGNATURE_LENGTH);

/** The parsed Authorization header of SigV4 credentials (parsed on first use; a malformed one throws each time). */
export function sigV4Authorization(credentials: Extract<Credentials, { kind: 'sigv4' }>): SigV4Authorization {
  let auth = parsedSigV4.get(credentials);
  if (auth === undefined) {
    auth = parseWithPrefixCache(credentials.authorization);
    parsedSigV4.set(credentials, auth);
  }
  return auth;
}

/**
 * parseAuthorization, with the part before a trailing `Signature=<64 hex>` parsed once per
 * distinct prefix: the same result, since the signature is the last field (it wins over any
 * earlier one, as in parseAuthorization) and is checked here as parseAuthorization checks it.
 */
function parseWithPrefixCache(header: string): SigV4Authorization {
  const at = header.length - SIGNATURE_LENGTH - SIGNATURE_FIELD.length;
  // the field's own name: after a separator, not the end of another name (`XSignature=`)
  if (at <= 0 || !header.startsWith(SIGNATURE_FIELD, at) || (header[at - 1] !== ',' && header[at - 1] !== ' ')) return parseAuthorization(header);
  const signature = header.slice(at + SIGNATURE_FIELD.length);
  if (!/^[0-9a-f]{64}$/.test(signature)) return parseAuthorization(header);
  const prefix = header.slice(0, at);
  let known = parsedPrefixes.get(prefix);
  if (known === undefined) {
    known = parseAuthorization(prefix + SIGNATURE_FIELD + PLACEHOLDER_SIGNATURE);
    if (parsedPrefixes.size >= MAX_PARSED_PREFIXES) parsedPrefixes.clear();
    parsedPrefixes.set(prefix, known);
  }
  return { accessKeyId: known.accessKeyId, date: known.date, region: known.region, service: known.service, signedHeaders: known.signedHeaders, signature };
}

/** Reads credentials from an Authorization header value (SigV4 or Bearer). */
export function credentialsFromAuthorization(authorization: string | undefined, request: () => SignedRequest): Credentials {
  if (authorization === undefined || authorization === '') return { kind: 'none' };
  if (authorization.startsWith('Bearer ')) return { kind: 'bearer', token: authorization.slice(7).trim() };
  if (isSigV4(authorization)) return { kind: 'sigv4', authorization, request: request() };
  throw new KeywardError('IncompleteSignatureException', 'The Authorization header must be AWS4-HMAC-SHA256 (SigV4) or Bearer.');
}

/**
 * authenticate() without a promise when it needs no load: SigV4 whose principal and tenant are
 * cached (nearly every request of a busy client). Undefined when something must be loaded (then
 * call authenticate); throws as authenticate would.
 */
export function authenticateCached(services: Services, credentials: Credentials): Caller | undefined {
  if (credentials.kind !== 'sigv4') return undefined;
  const { principals, tenants } = services.keyring;
  const auth = sigV4Authorization(credentials);
  const principal = principals.cachedByAccessKeyId(auth.accessKeyId);
  if (principal === undefined) return undefined;
  const tenant = tenants.cached(principal.tenantId);
  if (tenant === undefined) return undefined;
  verifySigV4(credentials.request, auth, principal.secretAccessKey, services.clock(), services.signingKeys, services.sigv4);
  return { principal, tenant };
}

/** Proves the caller's identity; every failure is an AWS authentication exception without detail on secrets. */
export async function authenticate(services: Services, credentials: Credentials): Promise<Caller> {
  const { principals, tenants } = services.keyring;
  let principal: PrincipalRecord | undefined;
  let certificateSerial: string | undefined;
  switch (credentials.kind) {
    case 'none':
      throw new KeywardError('MissingAuthenticationTokenException', 'Missing Authentication Token: sign the request with SigV4 or send Authorization: Bearer <token>.');
    case 'bearer':
      principal = await principals.byToken(credentials.token);
      if (principal === undefined) throw unrecognized();
      break;
    case 'sigv4': {
      const auth = sigV4Authorization(credentials);
      principal = await principals.byAccessKeyId(auth.accessKeyId);
      if (principal === undefined) throw unrecognized();
      verifySigV4(credentials.request, auth, principal.secretAccessKey, services.clock(), services.signingKeys, services.sigv4);
      break;
    }
    case 'bound':
      // cached like a token; deleting the principal (on any node) drops it from the cache
      principal = await principals.byName(credentials.tenantId, credentials.name);
      if (principal === undefined) {
        throw new KeywardError('UnrecognizedClientException', `The principal ${credentials.tenantId}/${credentials.name} bound to this listener does not exist.`);
      }
      break;
    case 'certificate': {
      const id = await services.pki.identify(credentials.certificate);
      if (id.role !== 'admin' && id.role !== 'user') {
        throw new KeywardError('AccessDeniedException', `Client certificate refused: its role ${quote(id.role)} is not a Keyward role (admin or user).`);
      }
      const record = await principals.byName(id.tenantId, id.principal);
      if (record === undefined) {
        throw new KeywardError('AccessDeniedException', `Client certificate refused: principal ${id.principal} does not exist in tenant ${id.tenantId}.`);
      }
      // the certificate names the role it grants (RFC: the role it carries), within its tenant
      principal = { ...record, role: id.role };
      certificateSerial = id.serialNumber;
      break;
    }
  }
  const tenant = await tenants.find(principal.tenantId);
  if (tenant === undefined) throw unrecognized();
  return certificateSerial === undefined ? { principal, tenant } : { principal, tenant, certificateSerial };
}
