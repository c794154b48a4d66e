/** Offline audit tools for the CLI (loaded on demand): verify an exported or shipped JSON-lines log; accept a rollback. */
export { AnchorFile, anchorPath, parsePublicKey, parsePublicKeys, verifyFile, type VerifyReport } from './audit/index.js';
