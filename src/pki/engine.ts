/** The heavy part of the PKI (X.509 and ASN.1 libraries), loaded on first use by pki.ts. */
export { keyIdentifier, memberName, memberTbs, readIssuer, readStringExtension, signTbs, stringExtension, x509 } from './x509.js';
export { caKeyRef, generateCaKey, openCaKey } from './ca-key.js';
export { planCrl, signCrl } from './crl.js';
export { generateMemberKey, readCsr } from './csr.js';
export { respondOcsp } from './ocsp.js';
