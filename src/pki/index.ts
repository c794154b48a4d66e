export { Pki, type PkiOptions, type NewCa, type IssueRequest, type Issued, type Crl, type CertificateIdentity } from './pki.js';
export { REVOCATION_REASONS, type CaRecord, type CertificateRecord, type RevocationReason, type Revocation, type RevocationRecord } from './types.js';
export { normalizeSerial, pem, OID } from './names.js';
export type { CertificateState } from './ocsp.js';
