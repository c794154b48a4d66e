import { createHash, sign } from 'node:crypto';
import {
  BasicOCSPResponse, type CertID, CertStatus, KeyHash, OCSPRequest, OCSPResponse, OCSPResponseStatus, ResponderID,
  ResponseBytes, ResponseData, RevokedInfo, SingleResponse, id_pkix_ocsp_basic, id_pkix_ocsp_nonce,
} from '@peculiar/asn1-ocsp';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate, CRLReason, type Extension } from '@peculiar/asn1-x509';
import type { CaKey } from './ca-key.js';
import { REVOCATION_REASONS, type Revocation } from './types.js';
import { normalizeSerial, toBuffer } from './names.js';

/** Hash algorithms a CertID may use (RFC 6960 clients send SHA-1; newer ones SHA-256). */
const HASHES: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
const ECDSA_WITH_SHA384 = '1.2.840.10045.4.3.3';
/** At most this many certificates per request: an unauthenticated caller's signing cost stays bounded. */
export const MAX_OCSP_REQUESTS = 10;
/** How long a relying party may keep an answer. */
const VALIDITY_MS = 60 * 60 * 1000;

/** A CA the responder answers for. */
export interface OcspIssuer {
  readonly certificate: Buffer;
  readonly generation: number;
}

export type CertificateState =
  | { readonly status: 'good' }
  | { readonly status: 'revoked'; readonly revocation: Revocation }
  | { readonly status: 'unknown' };

export interface OcspQuery {
  readonly generation: number;
  readonly serialNumber: string;
}

/** A CertID matched to one of the issuers, or not. */
interface Item {
  readonly certId: CertID;
  readonly issuer?: OcspIssuer;
  readonly serialNumber?: string;
}

export function ocspError(status: OCSPResponseStatus): Buffer {
  return toBuffer(AsnConvert.serialize(new OCSPResponse({ responseStatus: status })));
}

/**
 * Answers an OCSP request (RFC 6960) for certificates of `issuers`, signed by the issuing CA
 * itself (its certificate travels in the response). Errors are OCSP responses too: a request that
 * does not parse is malformedRequest; one about no CA of this tenant is unauthorized.
 */
export async function respondOcsp(
  requestDer: Buffer,
  issuers: readonly OcspIssuer[],
  lookup: (q: OcspQuery) => Promise<CertificateState>,
  signer: (issuer: OcspIssuer) => Promise<CaKey>,
  now: Date,
): Promise<Buffer> {
  let request: OCSPRequest;
  try {
    request = AsnConvert.parse(requestDer, OCSPRequest);
  } catch {
    return ocspError(OCSPResponseStatus.malformedRequest);
  }
  const list = request.tbsRequest.requestList;
  if (list.length === 0 || list.length > MAX_OCSP_REQUESTS) return ocspError(OCSPResponseStatus.malformedRequest);
  const items = list.map((r) => match(r.reqCert, issuers));
  const first = items.find((i) => i.issuer !== undefined)?.issuer;
  if (first === undefined) return ocspError(OCSPResponseStatus.unauthorized);

  const thisUpdate = wholeSeconds(now);
  const responses: SingleResponse[] = [];
  for (const item of items) {
    // one signature per response: certificates of another CA generation are answered unknown
    const state: CertificateState = item.issuer === first && item.serialNumber !== undefined
      ? await lookup({ generation: first.generation, serialNumber: item.serialNumber })
      : { status: 'unknown' };
    responses.push(new SingleResponse({
      certID: item.certId,
      certStatus: certStatus(state),
      thisUpdate,
      nextUpdate: new Date(thisUpdate.getTime() + VALIDITY_MS),
    }));
  }
  const caCert = AsnConvert.parse(first.certificate, Certificate);
  const nonce = request.tbsRequest.requestExtensions?.find((e: Extension) => e.extnID === id_pkix_ocsp_nonce);
  const tbs = new ResponseData({
    responderID: new ResponderID({ byKey: new KeyHash(createHash('sha1').update(Buffer.from(caCert.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey)).digest()) }),
    producedAt: thisUpdate,
    responses,
    ...(nonce !== undefined ? { responseExtensions: [nonce] } : {}),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const key = await signer(first);
  const signature = sign('sha384', tbsDer, { key: key.keyObject, dsaEncoding: 'der' });
  const basic = new BasicOCSPResponse({
    tbsResponseData: tbs,
    signatureAlgorithm: new AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA384 }),
    signature: toArrayBuffer(signature),
    certs: [caCert],
  });
  return toBuffer(AsnConvert.serialize(new OCSPResponse({
    responseStatus: OCSPResponseStatus.successful,
    responseBytes: new ResponseBytes({ responseType: id_pkix_ocsp_basic, response: new OctetString(AsnConvert.serialize(basic)) }),
  })));
}

function match(certId: CertID, issuers: readonly OcspIssuer[]): Item {
  const hash = HASHES[certId.hashAlgorithm.algorithm];
  if (hash === undefined) return { certId };
  const nameHash = Buffer.from(certId.issuerNameHash.buffer);
  const keyHash = Buffer.from(certId.issuerKeyHash.buffer);
  for (const issuer of issuers) {
    const cert = AsnConvert.parse(issuer.certificate, Certificate);
    const name = createHash(hash).update(Buffer.from(AsnConvert.serialize(cert.tbsCertificate.subject))).digest();
    const key = createHash(hash).update(Buffer.from(cert.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey)).digest();
    if (name.equals(nameHash) && key.equals(keyHash)) {
      const serialNumber = normalizeSerial(Buffer.from(certId.serialNumber).toString('hex'));
      return serialNumber === undefined ? { certId, issuer } : { certId, issuer, serialNumber };
    }
  }
  return { certId };
}

function certStatus(state: CertificateState): CertStatus {
  switch (state.status) {
    case 'good': return new CertStatus({ good: null });
    case 'unknown': return new CertStatus({ unknown: null });
    case 'revoked': {
      const reason = REVOCATION_REASONS[state.revocation.reason];
      return new CertStatus({
        revoked: new RevokedInfo({
          revocationTime: wholeSeconds(new Date(state.revocation.revokedAt)),
          ...(state.revocation.reason !== 'unspecified' ? { revocationReason: new CRLReason(reason) } : {}),
        }),
      });
    }
  }
}

/** GeneralizedTime in DER has no fractional seconds that some parsers refuse. */
function wholeSeconds(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

function toArrayBuffer(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}
