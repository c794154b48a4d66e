/** Offline audit tools for the CLI (loaded on demand): verify an exported or shipped JSON-lines log. */
export { parsePublicKey, verifyFile, type VerifyReport } from './audit/index.js';
