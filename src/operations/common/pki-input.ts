import { checkTenantId } from '../../keyring/index.js';
import { normalizeSerial, REVOCATION_REASONS, type CaRecord, type CertificateRecord, type RevocationReason } from '../../pki/index.js';
import type { NewCa } from '../../pki/index.js';
import { invalid, type Input } from './input.js';
import { epochSeconds } from './key-metadata.js';

/** Request fields and result shapes the PKI operations share. */

export function readSerial(input: Input, field = 'SerialNumber'): string {
  const serial = normalizeSerial(input.requiredString(field, { min: 1, max: 64 }));
  if (serial === undefined) throw invalid(field, 'Member must be a hexadecimal serial number of at most 20 octets');
  return serial;
}

/** A tenant id named by an unauthenticated request (URL path): validated before any lookup. */
export function readTenant(input: Input, field = 'Tenant'): string {
  const tenant = input.requiredString(field, { min: 1, max: 63 });
  try {
    checkTenantId(tenant);
  } catch {
    throw invalid(field, 'Member must be a tenant id: 1-63 characters of a-z, 0-9 and -');
  }
  return tenant;
}

export function readValidityDays(input: Input): number | undefined {
  return input.integer('ValidityDays', { min: 1, max: 36_500 });
}

/** Tenant (default: the caller's), common name and validity of a new tenant CA. */
export function readNewCa(input: Input): { tenant: string | undefined; ca: NewCa } {
  const commonName = input.string('CommonName', { min: 1, max: 64 });
  const validityDays = readValidityDays(input);
  return {
    tenant: input.string('Tenant', { min: 1, max: 63 }),
    ca: { ...(commonName !== undefined ? { commonName } : {}), ...(validityDays !== undefined ? { validityDays } : {}) },
  };
}

export function readGeneration(input: Input): number | undefined {
  return input.integer('Generation', { min: 1, max: 1_000_000 });
}

/** A CRLReason by RFC 5280 name (keyCompromise) or code (1). */
export function readReason(input: Input): RevocationReason {
  const names = Object.keys(REVOCATION_REASONS) as RevocationReason[];
  if (!input.isNumber('Reason')) return input.oneOf('Reason', names) ?? 'unspecified';
  const code = input.integer('Reason', { min: 0, max: 10 });
  const byCode = names.find((n) => REVOCATION_REASONS[n] === code);
  if (byCode === undefined) throw invalid('Reason', `Member must be an RFC 5280 reason code: ${names.map((n) => `${REVOCATION_REASONS[n]} (${n})`).join(', ')}`);
  return byCode;
}

export function caView(ca: CaRecord, pem: string): Record<string, unknown> {
  return {
    Certificate: pem,
    SerialNumber: ca.serialNumber,
    Subject: ca.subject,
    Generation: ca.generation,
    State: ca.state.toUpperCase(),
    NotBefore: epochSeconds(ca.notBefore),
    NotAfter: epochSeconds(ca.notAfter),
    ...(ca.tenantId !== undefined ? { Tenant: ca.tenantId } : {}),
  };
}

export function certificateView(c: CertificateRecord): Record<string, unknown> {
  return {
    SerialNumber: c.serialNumber,
    Tenant: c.tenantId,
    Principal: c.principal,
    Role: c.role,
    Subject: c.subject,
    ...(c.email !== undefined ? { Email: c.email } : {}),
    KeySpec: c.keySpec,
    KeySource: c.keySource,
    CaGeneration: c.caGeneration,
    NotBefore: epochSeconds(c.notBefore),
    NotAfter: epochSeconds(c.notAfter),
    CreationDate: epochSeconds(c.createdAt),
    Status: c.revoked !== undefined ? 'REVOKED' : 'GOOD',
    ...(c.revoked !== undefined ? { RevocationDate: epochSeconds(c.revoked.revokedAt), RevocationReason: c.revoked.reason } : {}),
  };
}

/** What the audit record names for an issued or revoked certificate (never a key). */
export function certificateAudit(c: CertificateRecord): Record<string, string> {
  return { 'Certificate.SerialNumber': c.serialNumber, 'Certificate.Subject': c.subject };
}
