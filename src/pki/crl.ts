import { AsnConvert } from '@peculiar/asn1-schema';
import { BaseCRLNumber, CRLNumber } from '@peculiar/asn1-x509';
import type { CaKey } from './ca-key.js';
import { REVOCATION_REASONS, type RevocationRecord } from './types.js';
import { CA_ALGORITHM, toBuffer } from './names.js';
import { x509 } from './x509.js';

/**
 * CRL numbering without a stored counter, the same on every node: CRLs are issued per period
 * (a window of `periodMs`, by default a day). A complete CRL is as of the later of the period's
 * start and the CA's last revocation, and its number is that instant in milliseconds times two;
 * a delta CRL lists the revocations since the period started, is numbered one more, and names
 * the complete CRL as of the period's start as its base. Every complete CRL of the period has a
 * number at or above that base, so the delta applies to any of them (RFC 5280, 5.2.4). Numbers
 * only grow, and complete and delta CRLs share one sequence, as RFC 5280 requires.
 */
export interface CrlPlan {
  readonly number: number;
  readonly baseNumber?: number;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly entries: readonly RevocationRecord[];
}

export function planCrl(revisedAtMs: number, nowMs: number, periodMs: number, delta: boolean, revocations: readonly RevocationRecord[]): CrlPlan {
  const periodStart = Math.floor(nowMs / periodMs) * periodMs;
  const asOf = Math.max(revisedAtMs, periodStart);
  const live = revocations.filter((r) => Date.parse(r.revokedAt) <= asOf && Date.parse(r.notAfter) >= periodStart);
  const entries = delta ? live.filter((r) => Date.parse(r.revokedAt) > periodStart) : live;
  return {
    number: asOf * 2 + (delta ? 1 : 0),
    ...(delta ? { baseNumber: periodStart * 2 } : {}),
    thisUpdate: new Date(asOf),
    nextUpdate: new Date(periodStart + 2 * periodMs),
    entries: [...entries].sort((a, b) => a.serialNumber.localeCompare(b.serialNumber)),
  };
}

/** Signs the CRL a plan describes with the CA's key (ECDSA P-384, SHA-384). */
export async function signCrl(caCert: x509.X509Certificate, key: CaKey, plan: CrlPlan): Promise<Buffer> {
  const extensions: x509.Extension[] = [
    await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
    new x509.Extension('2.5.29.20', false, AsnConvert.serialize(new CRLNumber(plan.number))),
  ];
  if (plan.baseNumber !== undefined) {
    // deltaCRLIndicator is critical: a relying party that does not know deltas must not take one for a complete CRL
    extensions.push(new x509.Extension('2.5.29.27', true, AsnConvert.serialize(new BaseCRLNumber(plan.baseNumber))));
  }
  const crl = await x509.X509CrlGenerator.create({
    issuer: caCert.subjectName,
    thisUpdate: plan.thisUpdate,
    nextUpdate: plan.nextUpdate,
    signingAlgorithm: CA_ALGORITHM,
    signingKey: key.signing,
    extensions,
    entries: plan.entries.map((r) => ({
      serialNumber: r.serialNumber,
      revocationDate: new Date(Math.floor(Date.parse(r.revokedAt) / 1000) * 1000),
      ...(r.reason !== 'unspecified' ? { reason: REVOCATION_REASONS[r.reason] as number as x509.X509CrlReason } : {}),
    })),
  });
  return toBuffer(crl.rawData);
}
