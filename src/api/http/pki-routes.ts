import type { FastifyRequest } from 'fastify';
import { pkiPublic, type Operation } from '../../operations/index.js';

/** What a public PKI route answers: PEM or DER bodies, not JSON. */
export interface Rendered {
  readonly type: string;
  readonly payload: string | Buffer;
}

export type PublicRoute = (
  method: 'GET' | 'POST',
  url: string,
  op: Operation,
  body: (req: FastifyRequest) => Record<string, unknown>,
  render: (result: Record<string, unknown>, req: FastifyRequest) => Rendered,
) => void;

const PEM = 'application/x-pem-file';

/**
 * The relying-party URLs (no credentials): the root and tenant CA certificates (PEM, or DER with
 * ?format=der), CRLs (DER, or PEM labelled X509 CRL with ?format=pem; ?delta=true for a delta
 * CRL; ?generation=N for a retired CA) and the OCSP responder (RFC 6960: POST, and GET with the
 * base64 request in the path). The root's own CRL is /v1/pki/root-crl: a one-segment path, so
 * no tenant id (a tenant may be called "root") can collide with it.
 */
export function registerPkiRoutes(route: PublicRoute): void {
  route('GET', '/v1/pki/root', pkiPublic.getRootCA, () => ({}), certificate('RootCA'));
  route('GET', '/v1/pki/root-crl', pkiPublic.getCRL, () => ({}), crl);
  route('GET', '/v1/pki/:tenant/ca', pkiPublic.getTenantCA, (req) => ({ Tenant: param(req, 'tenant'), ...generation(req) }), certificate('TenantCA'));
  route('GET', '/v1/pki/:tenant/crl', pkiPublic.getCRL, (req) => ({
    Tenant: param(req, 'tenant'), ...generation(req), Delta: ['true', '1'].includes(query(req, 'delta') ?? ''),
  }), crl);
  route('POST', '/v1/pki/:tenant/ocsp', pkiPublic.respondOCSP, (req) => ({
    Tenant: param(req, 'tenant'), OcspRequest: Buffer.isBuffer(req.body) ? req.body.toString('base64') : '',
  }), ocspResponse);
  route('GET', '/v1/pki/:tenant/ocsp/*', pkiPublic.respondOCSP, (req) => ({
    Tenant: param(req, 'tenant'), OcspRequest: safeDecode(param(req, '*')),
  }), ocspResponse);
}

function certificate(field: 'RootCA' | 'TenantCA') {
  return (result: Record<string, unknown>, req: FastifyRequest): Rendered => query(req, 'format') === 'der'
    ? { type: 'application/pkix-cert', payload: result.Der as Buffer }
    : { type: PEM, payload: (result[field] as { Certificate: string }).Certificate };
}

function crl(result: Record<string, unknown>, req: FastifyRequest): Rendered {
  const der = result.Crl as Buffer;
  if (query(req, 'format') !== 'pem') return { type: 'application/pkix-crl', payload: der };
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return { type: PEM, payload: `-----BEGIN X509 CRL-----\n${lines.join('\n')}\n-----END X509 CRL-----\n` };
}

function ocspResponse(result: Record<string, unknown>): Rendered {
  return { type: 'application/ocsp-response', payload: result.OcspResponse as Buffer };
}

function param(req: FastifyRequest, name: string): string {
  return (req.params as Record<string, string | undefined>)[name] ?? '';
}

function query(req: FastifyRequest, name: string): string | undefined {
  const v = (req.query as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v : undefined;
}

/** ?generation=N as a number when it is one (the operation names the field when it is not). */
function generation(req: FastifyRequest): Record<string, unknown> {
  const g = query(req, 'generation');
  if (g === undefined) return {};
  return { Generation: /^\d{1,7}$/.test(g) ? Number(g) : g };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
